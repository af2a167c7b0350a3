"""Towns drawn in Tiled: a small `.tmj` (tests/fixtures/tiled/tiny.tmj) loads through
pytiled-parser into the same town map as a town.json, the server runs it, and mistakes in the
map name the file and the field."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.app import run_town
from server.client import TownClient
from server.world.town import TownFileError, TownFiles
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
TMJ = Path(__file__).parent / "fixtures" / "tiled" / "tiny.tmj"


def _town(tmp: Path, mutate: Callable[[dict[str, Any]], None] | None = None) -> Path:
    for f in ("templates.json", "equipment.json"):
        shutil.copy(ROOT / "buildings" / f, tmp / f)
    m = json.loads(TMJ.read_text())
    if mutate is not None:
        mutate(m)
    path = tmp / "tiny.tmj"
    path.write_text(json.dumps(m))
    return path


def test_tiled_map_reads_terrain_and_buildings(tmp_path: Path) -> None:
    tf = TownFiles(_town(tmp_path))
    assert tf.map.name == "Tiny Tiled Town"
    assert tf.map.tiles[0] == "#" * 15 and tf.map.tiles[7] == "#=============#"
    assert tf.map.tiles[8] == "#,..~~,,,,,,,,#"  # floor, water; the flipped tile is still grass
    assert [(b.id, b.template, b.name, b.x, b.y) for b in tf.map.buildings] == [
        ("rose-cottage", "house", "Rose Cottage", 2, 2),
        ("corner-cafe", "cafe", None, 8, 2),
    ]


def _set_tile_class(m: dict[str, Any]) -> None:
    m["tilesets"][0]["tiles"][2]["type"] = "lava"


def _drop_template(m: dict[str, Any]) -> None:
    m["layers"][1]["objects"][1]["properties"] = []


def _unknown_template(m: dict[str, Any]) -> None:
    m["layers"][1]["objects"][0]["properties"][0]["value"] = "castle"


def _off_grid(m: dict[str, Any]) -> None:
    m["layers"][1]["objects"][0]["x"] = 35


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (_set_tile_class, "field layers.ground.data: cell (1,1) holds tile 3, whose terrain is 'lava'"),
        (_drop_template, "field layers.buildings.objects.1 (corner-cafe): no 'template' property"),
        (_unknown_template, "field buildings.0.template: unknown template 'castle'"),
        (_off_grid, "corner (35,32) px is not on the 16x16 tile grid"),
    ],
)
def test_tiled_mistakes_name_file_and_field(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expect: str
) -> None:
    path = _town(tmp_path, mutate)
    with pytest.raises(TownFileError) as e:
        TownFiles(path)
    assert str(path) in str(e.value) and expect in str(e.value)


def test_not_a_tiled_map(tmp_path: Path) -> None:
    path = tmp_path / "bad.tmj"
    path.write_text('{"layers": 3}')
    with pytest.raises(TownFileError, match="bad.tmj: not a Tiled JSON map"):
        TownFiles(path)


async def test_server_runs_a_tiled_town(tmp_path: Path, sqlite_url: str) -> None:
    async with run_town(make_settings(sqlite_url, town=str(_town(tmp_path)), agents=None)) as r:
        c = await TownClient.connect(r.ws_url)
        try:
            t = await c.call("get_town")
        finally:
            c.close()
        assert t["name"] == "Tiny Tiled Town" and (t["width"], t["height"]) == (15, 10)
        assert {b["id"] for b in t["buildings"]} == {"rose-cottage", "corner-cafe"}
        w = r.services.world
        a, b = (x.entrance for x in w.buildings.values())
        assert w.grid.path(a, b) is not None
