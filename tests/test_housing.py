"""Housing on the imported AgentSims fixture (two houses of two beds, three preset agents):
agents live somewhere, a new agent gets a bed or is refused naming the fullest homes, the admin
sees free beds (`get_housing`), and the limits hold across a restart, on SQLite and MySQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.app import run_town
from server.client import CommandError, TownClient
from server.tools.import_agentsims import import_town
from tests.conftest import ADMIN, make_settings
from tests.test_agentsims_import import FIXTURE


def _new(name: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "bio": "A newcomer.", "goal": "Find a place to live.", "cash": 10, **kw}


async def test_beds_limit_new_agents_across_a_restart(tmp_path: Path, db_url: str) -> None:
    import_town(FIXTURE, tmp_path / "t")
    settings = make_settings(
        db_url, town=str(tmp_path / "t/town.json"), agents=str(tmp_path / "t/agents.json")
    )
    async with run_town(settings) as r:
        c = await TownClient.connect(r.ws_url)
        try:
            with pytest.raises(CommandError) as e:
                await c.call("get_housing")
            assert e.value.code == "forbidden"
            await c.call("login", token=ADMIN)
            h = await c.call("get_housing")
            assert (h["beds"], h["free"], h["homeless"]) == (4, 1, [])
            by_id = {x["id"]: x for x in h["homes"]}
            assert by_id["green-house-2"]["residents"] == ["mira-holt"]  # npcs.json's homeBuilding
            assert sorted(by_id["blue-house-4"]["residents"]) == ["ines-park", "tomas-reyes"]
            with pytest.raises(CommandError) as e:  # a full home asked for by name
                await c.call("register", **_new("Ola Berg", home="blue-house-4"))
            assert e.value.code == "no_free_bed" and "free beds: 1 in green-house-2" in str(e.value)
            a = (await c.call("register", **_new("Ola Berg")))["agent"]
            assert a["home"] == "green-house-2"
            with pytest.raises(CommandError) as e:
                await c.call("register", **_new("Pia Lund"))
            assert e.value.code == "no_free_bed"
            assert "fullest homes: blue house (blue-house-4) 2/2, green house (green-house-2) 2/2" in str(
                e.value
            )
        finally:
            c.close()
    async with run_town(settings) as r:  # restarted: who lives where is stored with the agents
        c = await TownClient.connect(r.ws_url)
        try:
            await c.call("login", token=ADMIN)
            assert (await c.call("get_housing"))["free"] == 0
            with pytest.raises(CommandError) as e:
                await c.call("register", **_new("Pia Lund"))
            assert e.value.code == "no_free_bed"
            await c.call("delete_agent", agent_id="tomas-reyes")  # a bed frees up
            a = (await c.call("register", **_new("Pia Lund")))["agent"]
            assert a["home"] == "blue-house-4"
        finally:
            c.close()


async def test_a_town_without_beds_has_no_housing(admin: TownClient) -> None:
    h = await admin.call("get_housing")
    assert h == {"homes": [], "beds": 0, "free": 0, "homeless": []}
    for i in range(3):  # no limit
        await admin.call("register", **_new(f"Free Agent {'abc'[i]}"))
