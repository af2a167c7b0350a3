"""`find_site`: where a template fits, answered exactly as `create_building` decides it."""

from __future__ import annotations

from typing import Any

import pytest

from server.app import Running
from server.client import CommandError, TownClient
from server.errors import GameError
from server.world import placing


async def sites(c: TownClient, template: str, **kw: Any) -> list[tuple[int, int]]:
    r = await c.call("find_site", template=template, limit=100_000, **kw)
    assert r["total"] == len(r["sites"])
    return [(s["x"], s["y"]) for s in r["sites"]]


@pytest.mark.parametrize("template", ["stall", "house", "park"])
async def test_every_position_left_out_is_refused_by_the_world(
    town: Running, client: TownClient, template: str
) -> None:
    """A position `find_site` does not answer is one `place_building` refuses (and a refusal
    changes nothing), so the answer is never too small."""
    w = town.services.world
    found = set(await sites(client, template))
    assert found
    tpl = w.town.templates[template]
    before = (len(w.buildings), bytes(w.grid.walk))
    for y in range(w.grid.height - tpl.footprint.h + 2):  # one row and column past the edge too
        for x in range(w.grid.width - tpl.footprint.w + 2):
            if (x, y) not in found:
                with pytest.raises(GameError):
                    placing.place_building(w, template, x, y)
    assert (len(w.buildings), bytes(w.grid.walk)) == before


async def test_answered_positions_can_be_built_nearest_first(town: Running, admin: TownClient) -> None:
    near = {"x": 10, "y": 26}
    r = await admin.call("find_site", template="stall", near=near, limit=50)
    assert (r["w"], r["h"], r["entrance"]) == (2, 2, {"x": 0, "y": 1})
    assert len(r["sites"]) == 50 and r["total"] > 50
    dist = [abs(s["x"] + 0 - 10) + abs(s["y"] + 1 - 26) for s in r["sites"]]
    assert dist == sorted(dist)
    for s in r["sites"][:3]:  # each built where it was answered, one after another
        fresh = {
            (t["x"], t["y"])
            for t in (await admin.call("find_site", template="stall", limit=100_000))["sites"]
        }
        if (s["x"], s["y"]) not in fresh:  # covered by one built just before
            continue
        b = (await admin.call("create_building", template="stall", x=s["x"], y=s["y"]))["building"]
        assert (b["x"], b["y"]) == (s["x"], s["y"])
    after = await sites(admin, "stall")
    assert not {(s["x"], s["y"]) for s in r["sites"][:1]} & set(after)


async def test_a_building_may_not_cover_another_buildings_entrance(town: Running, admin: TownClient) -> None:
    """A stall's entrance is its bottom-left tile, with free grass to its left: a second stall
    there would wall the first one in."""
    first = (await admin.call("create_building", template="stall", x=10, y=26))["building"]
    ex, ey = first["entrance"]["x"], first["entrance"]["y"]
    assert (ex - 1, ey) not in set(await sites(admin, "stall"))
    with pytest.raises(CommandError) as e:
        await admin.call("create_building", template="stall", x=ex - 1, y=ey)
    assert e.value.code == "conflict" and "entrance" in e.value.message


async def test_agents_block_the_footprint_but_not_the_new_entrance(town: Running, client: TownClient) -> None:
    w = town.services.world
    x, y = (await sites(client, "stall", near={"x": 10, "y": 26}))[0]
    a = next(iter(w.agents.values()))
    a.x, a.y = x + 1, y  # on the footprint, not the entrance (x, y + 1)
    assert (x, y) not in set(await sites(client, "stall"))
    a.x, a.y = x, y + 1  # on the new entrance: allowed, as place_building allows it
    assert (x, y) in set(await sites(client, "stall"))


async def test_bad_requests_are_refused(client: TownClient) -> None:
    with pytest.raises(CommandError) as e:
        await client.call("find_site", template="castle")
    assert e.value.code == "not_found" and "stall" in e.value.message
    with pytest.raises(CommandError) as e:
        await client.call("find_site", template="stall", limit=0)
    assert e.value.code == "invalid_request"
