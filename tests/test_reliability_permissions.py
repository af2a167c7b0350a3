"""Permissions: who may do what, the origin check and the admin token (issue 7)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient

from server.app import Running, run_town
from server.client import CommandError, TownClient
from server.session import Role
from tests.conftest import ADMIN, make_settings, table_counts

VIEWER_OK: dict[str, dict[str, Any]] = {
    "get_town": {},
    "info": {},
    "subscribe": {"on": True},
    "get_agent": {"agent_id": "alice-chen"},
}
ADMIN_ONLY = {"tick", "pause", "reset"}


def free_spot(w: Any, template: str) -> tuple[int, int]:
    """A place where `template` fits: walkable tiles, nobody standing there."""
    fp = w.town.templates[template].footprint
    taken = {(a.x, a.y) for a in w.agents.values()}
    for y in range(w.grid.height - fp.h):
        for x in range(w.grid.width - fp.w):
            tiles = [(x + dx, y + dy) for dx in range(fp.w) for dy in range(fp.h)]
            if all(w.grid.walkable(*t) and t not in taken for t in tiles):
                return x, y
    raise AssertionError("no free spot")


async def expect_error(c: TownClient, code: str, command: str, **data: Any) -> str:
    with pytest.raises(CommandError) as e:
        await c.call(command, **data)
    assert e.value.code == code, e.value
    return e.value.message


def test_privileged_commands_are_admin_only(town: Running) -> None:
    table = town.services.router.commands
    admin_cmds = {n for n, s in table.items() if s.permission is Role.ADMIN}
    assert ADMIN_ONLY <= admin_cmds
    for name in table:  # mayor mode's commands that hand out work are the admin's
        if any(k in name for k in ("task", "mayor", "hire")) and not name.startswith(("list_", "get_")):
            assert name in admin_cmds, name
    viewer_cmds = {n for n, s in table.items() if s.permission is Role.VIEWER}
    assert set(VIEWER_OK) <= viewer_cmds


async def test_viewer_watches_but_cannot_act(town: Running, client: TownClient, sqlite_url: str) -> None:
    before = table_counts(sqlite_url)
    for name, data in VIEWER_OK.items():
        await client.call(name, **data)
    for name, spec in town.services.router.commands.items():
        if spec.permission is not Role.VIEWER:
            msg = await expect_error(client, "forbidden", name)
            assert "viewer" in msg
    assert table_counts(sqlite_url) == before


async def test_player_cannot_run_admin_commands(town: Running, client: TownClient, sqlite_url: str) -> None:
    await client.call("login", player="pat", secret="pat-secret")
    before = table_counts(sqlite_url)
    for name, spec in town.services.router.commands.items():
        if spec.permission is Role.ADMIN:
            msg = await expect_error(
                client, "forbidden", name, **({"confirm": True} if name == "reset" else {})
            )
            assert "admin" in msg
    await expect_error(client, "forbidden", "login", token="not-the-token")
    assert (await client.call("info"))["role"] == "player"
    assert table_counts(sqlite_url) == before


async def test_player_acts_only_as_its_own_agents(town: Running, sqlite_url: str) -> None:
    w = town.services.world
    pat, quinn = await TownClient.connect(town.ws_url), await TownClient.connect(town.ws_url)
    await pat.call("login", player="pat", secret="pat-secret")
    await quinn.call("login", player="quinn", secret="quinn-secret")
    mine = (await pat.call("register", name="Pat Own", bio="b", goal="g", cash=500, home="cafe"))["agent"][
        "id"
    ]
    theirs = (await quinn.call("register", name="Quinn Own", bio="b", goal="g", cash=500, home="cafe"))[
        "agent"
    ]["id"]
    before = table_counts(sqlite_url)
    balances = w.ledger.accounts()
    x, y = free_spot(w, "house")
    # paying with somebody else's agent, or a preset agent nobody owns
    for payer in (theirs, "alice-chen"):
        await expect_error(pat, "forbidden", "create_building", template="house", x=x, y=y, payer=payer)
    await expect_error(pat, "forbidden", "create_building", template="house", x=x, y=y)  # nobody pays
    # deleting somebody else's agent
    for victim in (theirs, "alice-chen"):
        await expect_error(pat, "forbidden", "delete_agent", agent_id=victim)
    assert table_counts(sqlite_url) == before and w.ledger.accounts() == balances
    assert theirs in w.agents and "alice-chen" in w.agents
    # its own agent: pays and may be deleted; the cash leaves through the ledger
    built = await pat.call("create_building", template="house", x=x, y=y, payer=mine)
    assert built["paid"] > 0 and w.agents[mine].cash == 500 - built["paid"]
    gone = await pat.call("delete_agent", agent_id=mine)
    assert gone == {"agent_id": mine, "cash": 500 - built["paid"]}
    assert mine not in w.agents and w.ledger.total() == 0 and w.ledger.balance(f"agent:{mine}") == 0
    entries = await w.repo.ledger_entries(f"agent:{mine}")
    assert entries[-1].dst == "sink:consumption" and entries[-1].reason == "agent removed", entries
    pat.close()
    quinn.close()


async def test_admin_deletes_any_agent(town: Running, admin: TownClient) -> None:
    await admin.call("delete_agent", agent_id="alice-chen")
    assert "alice-chen" not in town.services.world.agents
    await expect_error(admin, "not_found", "delete_agent", agent_id="alice-chen")
    snap = await town.services.world.repo.load()
    assert "alice-chen" not in {a["id"] for a in snap.agents}


async def test_reset_founds_the_town_anew(tmp_path: Path, sqlite_url: str) -> None:
    async with run_town(make_settings(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")) as fresh:
        fresh_state = fresh.services.world.town_state()
    fresh_counts = table_counts(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    async with run_town(make_settings(sqlite_url)) as r:
        c = await TownClient.connect(r.ws_url)
        watcher = await TownClient.connect(r.ws_url)
        await watcher.call("subscribe")
        await c.call("login", token=ADMIN)
        await c.call("register", name="Extra Person", bio="b", goal="g", home="cafe")
        x, y = free_spot(r.services.world, "house")
        await c.call("create_building", template="house", x=x, y=y)
        await c.call("tick", count=5)
        await expect_error(c, "invalid_request", "reset")  # needs confirm
        assert r.services.world.clock.tick == 5
        out = await c.call("reset", confirm=True)
        assert out["tick"] == 0 and out["agents"] == len(fresh_state["agents"])
        assert (await watcher.next_push("reset"))["data"]["tick"] == 0
        assert r.services.world.town_state() == fresh_state
        assert r.services.world.ledger.total() == 0
        assert table_counts(sqlite_url) == fresh_counts
        s = await c.call("tick")  # ticking goes on from the new town
        assert s["tick"] == 1
        c.close()
        watcher.close()
    async with run_town(make_settings(sqlite_url)) as again:  # and a restart loads the new town
        assert again.services.world.clock.tick == 1
        assert {a.id for a in again.services.world.agents.values()} == {
            a["id"] for a in fresh_state["agents"]
        }


async def test_reset_refused_when_town_files_are_broken(tmp_path: Path, sqlite_url: str) -> None:
    import json
    import shutil

    from config.settings import ROOT

    for f in ("town.json", "templates.json", "equipment.json"):
        shutil.copy(ROOT / "buildings" / f, tmp_path / f)
    async with run_town(make_settings(sqlite_url, town=str(tmp_path / "town.json"))) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("tick", count=2)
        before = table_counts(sqlite_url)
        data = json.loads((tmp_path / "equipment.json").read_text())
        data["equipment"][1]["price"] = "free"
        (tmp_path / "equipment.json").write_text(json.dumps(data))
        msg = await expect_error(c, "invalid_town", "reset", confirm=True)
        assert "equipment.json" in msg and "equipment.1.price" in msg
        assert table_counts(sqlite_url) == before and r.services.world.clock.tick == 2
        c.close()


async def test_origin_check(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, allowed_origins=["http://good.example"])
    async with run_town(settings) as r:
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await TownClient.connect(r.ws_url, origin="http://evil.example")
        assert e.value.code == 403
        with pytest.raises(tornado.httpclient.HTTPClientError):
            await TownClient.connect(r.ws_url, origin="http://good.example.evil.example")
        for origin in ("http://good.example", f"http://127.0.0.1:{r.port}"):  # listed; same host
            c = await TownClient.connect(r.ws_url, origin=origin)
            assert (await c.call("info"))["role"] == "viewer"
            c.close()


async def test_generated_admin_token_printed_works_and_survives_restart(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(sqlite_url, admin_token=None)
    async with run_town(settings) as r:
        out = capsys.readouterr().out
        assert "admin token" in out
        token = out.strip().rsplit(" ", 1)[-1]
        assert len(token) >= 24 and token == r.services.admin_token
        c = await TownClient.connect(r.ws_url)
        assert (await c.call("login", token=token))["role"] == "admin"
        await c.call("tick")
        c.close()
    async with run_town(settings) as r2:
        assert "admin token" not in capsys.readouterr().out  # not generated again
        c = await TownClient.connect(r2.ws_url)
        await expect_error(c, "forbidden", "login", token=token + "x")
        assert (await c.call("login", token=token))["role"] == "admin"
        # a reset keeps the generated token
        await c.call("reset", confirm=True)
        c.close()
    async with run_town(settings) as r3:
        assert r3.services.admin_token == token
        assert "admin token" not in capsys.readouterr().out


def test_admin_token_compared_in_constant_time() -> None:
    import inspect

    import command.login as login

    src = inspect.getsource(login.handle)
    assert "hmac.compare_digest" in src and "==" not in src.replace("!=", "")


async def test_tick_needs_admin_even_when_paused(
    town: Running, admin: TownClient, client: TownClient
) -> None:
    await admin.call("pause", on=True)
    await expect_error(client, "forbidden", "pause", on=False)
    await expect_error(admin, "paused", "tick")
    await admin.call("pause", on=False)
    assert (await admin.call("tick"))["tick"] == 1
    await asyncio.sleep(0)
