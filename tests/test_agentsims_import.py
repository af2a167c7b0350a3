"""Importing an AgentSims town (`python -m server.tools.import_agentsims`): the hand-made fixture
in tests/fixtures/agentsims converts, the server runs it, and its buildings can be walked to."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from server.app import run_town
from server.client import TownClient
from server.errors import Conflict
from server.tools.import_agentsims import main
from server.world import placing
from server.world.sites import free_sites
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "agentsims"


@pytest.fixture
def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    out = tmp_path / "mytown"
    assert main([str(FIXTURE), str(out)]) == 0
    return out, capsys.readouterr().out


def test_import_lists_what_it_cannot_carry_over(imported: tuple[Path, str]) -> None:
    out, printed = imported
    assert "field 'color' (unknown to the importer): id 2" in printed  # an unknown building field
    assert "salary" in printed and "id 2 (50)" in printed
    assert "workBuilding" in printed and "models" in printed
    assert printed.splitlines()[:-1] == (out / "IMPORT_REPORT.txt").read_text().splitlines()
    eq = {e["name"]: e for e in json.loads((out / "equipment.json").read_text())["equipment"]}
    goods = [e for e in eq.values() if e.get("label") == "goods"]
    assert sorted(e["name"] for e in goods) == ["goods_2", "goods_3", "goods_8"]  # distinct, name kept
    counter = eq["counter"]
    assert counter["functions"][0] == {"name": "Restock shelves", "cost": 0, "earn": 30, "owner_only": True}
    assert counter["menu"] == {"bread": 3, "milk": 2, "cheese": 5}
    assert eq["bed"]["beds"] == 2 and eq["desk"]["job"] == "desk"


def test_import_refuses_a_bad_file_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "cfg"
    shutil.copytree(FIXTURE, src)
    bad = json.loads((src / "equipments.json").read_text())
    bad[0]["functions"][0]["cost"] = -5
    (src / "equipments.json").write_text(json.dumps(bad))
    assert main([str(src), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "equipments.json" in err and "0.functions.0.cost" in err


async def test_imported_town_runs_and_every_entrance_reaches_every_other(
    imported: tuple[Path, str], sqlite_url: str
) -> None:
    out, _ = imported
    settings = make_settings(sqlite_url, town=str(out / "town.json"), agents=str(out / "agents.json"))
    async with run_town(settings) as r:
        c = await TownClient.connect(r.ws_url)
        try:
            t = await c.call("get_town")
        finally:
            c.close()
        world = r.services.world
        assert {b["id"] for b in t["buildings"]} == {
            "corner-store-1",
            "green-house-2",
            "town-office-3",
            "blue-house-4",
        }
        assert {a["name"] for a in t["agents"]} == {"Mira Holt", "Tomas Reyes", "Ines Park"}
        store = world.buildings["corner-store-1"]
        # the inner grid: an open aisle cell is walkable, a shelf's cell and the wall are not
        assert world.grid.walkable(store.x + 1, store.y + 1)
        assert not world.grid.walkable(store.x + 2, store.y + 2)
        assert not world.grid.walkable(store.x, store.y)
        assert not world.grid.walkable(0, 7)  # the fence from framework.json's map
        # the open cells inside a building are walkable, but nothing may be built on them
        house = world.town.templates["house"]
        with pytest.raises(Conflict, match=r"tile \(2,2\) is inside corner store"):
            placing.place_building(world, "house", store.x + 1, store.y + 1)
        inside = store.open_tiles()
        w, h = house.footprint.w, house.footprint.h
        sites = free_sites(world, house)
        assert sites and all(
            not {(x + dx, y + dy) for dx in range(w) for dy in range(h)} & inside for x, y in sites
        )
        entrances = [b.entrance for b in world.buildings.values()]
        for a, b in itertools.permutations(entrances, 2):
            assert world.grid.path(a, b) is not None, f"{b} unreachable from {a}"


def test_import_notes_an_entrance_no_one_can_reach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "cfg"
    shutil.copytree(FIXTURE, src)
    fw = json.loads((src / "framework.json").read_text())
    for x in range(1, 8):  # a ring of blocked cells around the blue house (2,10)-(6,13)
        for y in range(9, 15):
            if x in (1, 7) or y in (9, 14):
                fw["map"].setdefault(str(x), {}).setdefault(str(y), {})["block"] = 1
    (src / "framework.json").write_text(json.dumps(fw))
    assert main([str(src), str(tmp_path / "out")]) == 0
    assert "note: building blue-house-4's entrance (4, 13) cannot be reached from corner-store-1's" in (
        capsys.readouterr().out
    )
