"""A player in the town as a character: join, walk, use equipment, leave; stored with the town
(SQLite and MySQL); a player moves and spends only as its own avatar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.app import Running, run_town
from server.client import CommandError, TownClient
from server.tools.import_agentsims import import_town
from tests.conftest import ADMIN, make_settings
from tests.test_agentsims_import import FIXTURE


async def _player(town: Running, name: str) -> TownClient:
    c = await TownClient.connect(town.ws_url)
    await c.call("login", player=name, secret=f"{name}-secret")
    return c


async def _walk_until_there(
    admin: TownClient, c: TownClient, agent_id: str, limit: int = 60
) -> dict[str, Any]:
    for _ in range(limit):
        a = (await c.call("get_agent", agent_id=agent_id))["agent"]
        if a["state"] != "moving":
            return a
        await admin.call("tick", step=True)
    raise AssertionError(f"{agent_id} still walking after {limit} ticks")


async def test_join_appears_for_everyone_and_leave_balances_the_books(
    town: Running, admin: TownClient
) -> None:
    watcher = await TownClient.connect(town.ws_url)
    await watcher.call("subscribe")
    pat = await _player(town, "pat")
    a = (await pat.call("join", name="Pat Visitor", sprite="zed"))["agent"]
    assert a["avatar"] is True and a["owner"] == "pat" and a["cash"] == 100 and a["sprite"] == "zed"
    added = (await watcher.next_push("agent_added"))["data"]
    assert added["agent"]["id"] == a["id"] and added["agent"]["avatar"] is True
    got = await pat.call("get_agent", agent_id=a["id"])
    assert got["ledger"][0]["src"] == "source:grant" and got["ledger"][0]["amount"] == 100
    with pytest.raises(CommandError) as e:
        await pat.call("join", name="Pat Again")
    assert e.value.code == "conflict"
    with pytest.raises(CommandError) as e:  # an avatar is talked with in the town, not by form
        await pat.call("chat_with_npc", agent_id=a["id"], text="hi")
    assert e.value.code == "action_refused"
    left = await pat.call("leave")
    assert left == {"agent_id": a["id"], "cash": 100}
    assert (await watcher.next_push("agent_removed"))["data"]["agent_id"] == a["id"]
    assert town.services.world.ledger.total() == 0
    with pytest.raises(CommandError) as e:
        await pat.call("move_to", building_id="dessert-shop")
    assert e.value.code == "no_avatar"
    for c in (watcher, pat):
        c.close()


async def test_avatar_never_thinks_and_walks_along_the_path(town: Running, admin: TownClient) -> None:
    pat = await _player(town, "pat")
    a = (await pat.call("join", name="Pat Visitor", at="clinic"))["agent"]
    w = town.services.world
    shop = w.buildings["dessert-shop"]
    walk = await pat.call("move_to", building_id="dessert-shop")
    assert walk["target"] == "dessert-shop" and (walk["x"], walk["y"]) == shop.entrance
    before = (w.agents[a["id"]].x, w.agents[a["id"]].y)
    t = await admin.call("tick", step=True)
    rec = w.agents[a["id"]]
    moved = abs(rec.x - before[0]) + abs(rec.y - before[1])
    assert 0 < moved <= w.move_tiles  # a few tiles a tick, like agents
    assert t["failures"] == 0 and rec.failures == 0
    there = await _walk_until_there(admin, pat, a["id"])
    assert (there["x"], there["y"]) == shop.entrance and there["state"] == "idle"
    with pytest.raises(CommandError) as e:
        await pat.call("move_to", x=0, y=0)  # the map's edge is a wall
    assert e.value.code == "action_refused"
    with pytest.raises(CommandError) as e:
        await pat.call("move_to", building_id="dessert-shop", x=3, y=3)
    assert e.value.code == "invalid_request"
    pat.close()


async def test_use_pays_and_earns_through_the_ledger_only_as_own_avatar(
    town: Running, admin: TownClient
) -> None:
    pat = await _player(town, "pat")
    sam = await _player(town, "sam")
    a = (await pat.call("join", name="Pat Visitor", at="dessert-shop"))["agent"]
    w = town.services.world
    shop = w.buildings["dessert-shop"]
    counter = next(e for e in shop.equipment if e.spec.name == "dessert_counter")
    oven = next(e for e in shop.equipment if e.spec.name == "pastry_oven")
    with pytest.raises(CommandError) as e:  # sam has no avatar: he cannot spend pat's cash
        await sam.call("use", equipment_id=counter.id)
    assert e.value.code == "no_avatar"
    bought = await pat.call("use", equipment_id=counter.id, operation="buy dessert", minutes=10)
    assert bought["cash"] == 100 - counter.spec.price
    assert w.ledger.total() == 0
    await pat.call("move_to", building_id="dessert-shop")  # frees the counter
    worked = await pat.call("use", equipment_id=oven.id, operation="work shift", minutes=60)
    assert worked["cash"] > bought["cash"]  # a two half hours' wage
    led = (await pat.call("get_agent", agent_id=a["id"]))["ledger"]
    assert {x["src"] for x in led} >= {"source:grant", f"agent:{a['id']}", "source:economy"}
    assert w.ledger.total() == 0
    with pytest.raises(CommandError) as e:  # equipment of another building: refused, nothing moves
        await pat.call("use", equipment_id=next(iter(w.buildings["clinic"].equipment)).id)
    assert e.value.code == "action_refused"
    assert w.agents[a["id"]].cash == worked["cash"]
    pat.close()
    sam.close()


async def test_avatar_survives_a_restart(db_url: str) -> None:
    async with run_town(make_settings(db_url)) as r:
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        pat = await _player(r, "pat")
        a = (await pat.call("join", name="Pat Visitor", at="clinic"))["agent"]
        await pat.call("move_to", building_id="dessert-shop")
        await admin.call("tick", step=True)
        before = (await pat.call("get_agent", agent_id=a["id"]))["agent"]
        assert before["state"] == "moving"
        admin.close()
        pat.close()
    async with run_town(make_settings(db_url)) as r2:
        pat = await _player(r2, "pat")
        after = (await pat.call("get_agent", agent_id=a["id"]))["agent"]
        assert after == before and after["avatar"] is True
        with pytest.raises(CommandError):  # still pat's: no second avatar
            await pat.call("join", name="Pat Two")
        admin = await TownClient.connect(r2.ws_url)
        await admin.call("login", token=ADMIN)
        there = await _walk_until_there(admin, pat, a["id"])
        assert (there["x"], there["y"]) == r2.services.world.buildings["dessert-shop"].entrance
        admin.close()
        pat.close()


async def test_hired_avatar_earns_the_employees_wage(town: Running, admin: TownClient) -> None:
    pat = await _player(town, "pat")
    a = (await pat.call("join", name="Pat Visitor", at="dessert-shop"))["agent"]
    w = town.services.world
    oven = next(e for e in w.buildings["dessert-shop"].equipment if e.spec.name == "pastry_oven")
    plain = (await pat.call("use", equipment_id=oven.id, operation="work shift", minutes=30))["cash"] - 100
    assert plain == oven.spec.income
    job = (await admin.call("hire", agent_id=a["id"], building_id="dessert-shop"))["job"]
    await pat.call("move_to", building_id="dessert-shop")  # frees the oven
    before = w.agents[a["id"]].cash
    after = (await pat.call("use", equipment_id=oven.id, operation="work shift", minutes=30))["cash"]
    assert after - before == job["wage"] > oven.spec.income  # the employee's bonus
    assert w.task_board.shifts[a["id"]] == 1 and w.ledger.total() == 0
    pat.close()


async def test_avatar_orders_from_a_menu(tmp_path: Path, db_url: str) -> None:
    import_town(FIXTURE, tmp_path / "t")
    settings = make_settings(
        db_url, town=str(tmp_path / "t/town.json"), agents=str(tmp_path / "t/agents.json")
    )
    async with run_town(settings) as r:
        pat = await _player(r, "pat")
        await pat.call("join", name="Pat Visitor", at="corner-store-1")
        w = r.services.world
        counter = next(e for e in w.buildings["corner-store-1"].equipment if e.spec.name == "counter")
        got = await pat.call(
            "use", equipment_id=counter.id, operation="Buy groceries", items={"bread": 3, "cheese": 1}
        )
        assert got["cash"] == 100 - 12 - 3 * 3 - 5
        with pytest.raises(CommandError) as e:  # staff only: refused, no cash moves
            await pat.call("use", equipment_id=counter.id, operation="Restock shelves")
        assert e.value.code == "action_refused" and w.agents[got["agent_id"]].cash == got["cash"]
        assert w.ledger.total() == 0
        pat.close()


async def test_two_players_avatars_talk(town: Running) -> None:
    pat = await _player(town, "pat")
    sam = await _player(town, "sam")
    w = town.services.world
    a = (await pat.call("join", name="Pat Visitor", at="park"))["agent"]["id"]
    b = (await sam.call("join", name="Sam Visitor", at="park"))["agent"]["id"]
    first = await pat.call("say", text="Hello, Sam!", agent_id=b)
    cid = first["conversation_id"]
    assert first["ended"] is False and w.agents[b].conversation == cid
    with pytest.raises(CommandError) as e:  # pat spoke last: it is sam's turn
        await pat.call("say", text="Are you there?")
    assert e.value.code == "action_refused"
    assert (await sam.call("say", text="Hi, Pat."))["conversation_id"] == cid
    assert (await pat.call("say", text="Bye!", end=True))["ended"] is True
    assert w.agents[a].conversation is None and w.agents[b].conversation is None
    pat.close()
    sam.close()
