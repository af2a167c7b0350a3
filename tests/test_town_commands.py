"""get_town, register, get_agent, create_building and subscribe, as a client uses them."""

from __future__ import annotations

import pytest

from server.app import Running
from server.client import CommandError, TownClient
from tests.conftest import table_counts


async def test_get_town_has_map_buildings_equipment_agents(client: TownClient) -> None:
    t = await client.call("get_town")
    assert t["width"] == 48 and t["height"] == 32 and len(t["tiles"]) == 32
    names = {b["name"] for b in t["buildings"]}
    assert "Sweet Tooth Desserts" in names
    shop = next(b for b in t["buildings"] if b["id"] == "dessert-shop")
    assert {e["name"] for e in shop["equipment"]} == {"dessert_counter", "pastry_oven"}
    assert len(t["agents"]) >= 5
    assert len({a["goal"] for a in t["agents"]}) == len(t["agents"])  # distinct goals
    assert t["clock"] == "Day 1 08:00"


async def test_register_then_get_agent_with_ledger(client: TownClient) -> None:
    await client.call("login", player="pat", secret="pat-secret")
    a = (
        await client.call(
            "register",
            name="Zed Quinn",
            bio="A baker from afar.",
            goal="Open a bakery.",
            cash=120,
            plan="daily",
            memory="stream",
            sprite="zed",
        )
    )["agent"]
    assert a["owner"] == "pat" and a["cash"] == 120 and a["plan"] == "daily"
    got = await client.call("get_agent", agent_id=a["id"])
    assert got["agent"]["name"] == "Zed Quinn"
    assert got["ledger"] == [
        {
            "tick": 0,
            "src": "source:grant",
            "dst": f"agent:{a['id']}",
            "amount": 120,
            "reason": "starting cash",
        }
    ]


async def test_register_refuses_unknown_plugin_listing_valid(town: Running, client: TownClient) -> None:
    await client.call("login", player="pat", secret="pat-secret")
    before = table_counts(town.services.settings.db)
    with pytest.raises(CommandError) as e:
        await client.call("register", name="Y", bio="b", goal="g", plan="telepathy")
    assert e.value.code == "unknown_plugin" and "qa" in e.value.message and "daily" in e.value.message
    with pytest.raises(CommandError) as e:
        await client.call("register", name="Y", bio="b", goal="g", memory="nope")
    assert "stream" in e.value.message
    with pytest.raises(CommandError) as e:
        await client.call("register", name="Alice Chen", bio="b", goal="g")
    assert e.value.code == "conflict"
    assert table_counts(town.services.settings.db) == before


async def test_create_building_pays_and_blocks_tiles(town: Running, client: TownClient) -> None:
    await client.call("login", player="pat", secret="pat-secret")
    a = (await client.call("register", name="Builder Bo", bio="b", goal="g", cash=150))["agent"]
    with pytest.raises(CommandError) as e:  # a house costs 300
        await client.call("create_building", template="house", x=42, y=12, payer=a["id"])
    assert e.value.code == "insufficient_funds"
    with pytest.raises(CommandError) as e:  # on top of the cafe
        await client.call("create_building", template="stall", x=20, y=4, payer=a["id"])
    assert e.value.code == "conflict"
    with pytest.raises(CommandError) as e:  # not this player's agent
        await client.call("create_building", template="stall", x=42, y=12, payer="alice-chen")
    assert e.value.code == "forbidden"
    r = await client.call("create_building", template="stall", x=42, y=12, payer=a["id"], name="Bo's Snacks")
    assert r["paid"] == 100 and r["building"]["name"] == "Bo's Snacks"
    assert r["building"]["equipment"][0]["name"] == "snack_counter"
    assert town.services.world.agents[a["id"]].cash == 50
    assert not town.services.world.grid.walkable(43, 12)  # footprint blocked
    assert town.services.world.grid.walkable(42, 13)  # entrance open
    with pytest.raises(CommandError) as e:
        await client.call("create_building", template="castle", x=1, y=1)
    assert e.value.code == "not_found" and "house" in e.value.message


async def test_subscribe_receives_pushes(town: Running, client: TownClient) -> None:
    watcher = await TownClient.connect(town.ws_url)
    assert (await watcher.call("subscribe"))["subscribed"] is True
    await client.call("login", player="pat", secret="pat-secret")
    await client.call("register", name="New Comer", bio="b", goal="g")
    p = await watcher.next_push("agent_added")
    assert p["data"]["agent"]["name"] == "New Comer"
    watcher.close()
