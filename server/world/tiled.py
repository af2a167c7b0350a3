"""Town maps drawn in Tiled (JSON format, `.tmj`), read with the `pytiled-parser` library.

A Tiled town has one tile layer (named "ground" when there are several) whose tiles carry their
terrain as the tile's class (Tiled's "Class", `type` in older files) or as a string property
`terrain`: floor, road, grass (walkable), wall or water (blocked); an empty cell is floor. Object
layers place buildings: each rectangle's name is the building id and its `template` property names
the building template (a `label` property gives the shown name); its top-left corner, in pixels,
gives the tile. The map's custom properties may set `name`, `templates`, `equipment` and
`start_cash_source` as in town.json. The result is validated as a town.json would be, and
mistakes name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytiled_parser
from pydantic import ValidationError
from pytiled_parser.exception import UnknownFormat

from server.world.town import TownFileError, TownMap, describe_errors

TERRAIN = {"floor": ".", "road": "=", "grass": ",", "wall": "#", "water": "~"}
GID_MASK = 0x1FFFFFFF  # Tiled keeps the flip flags in a gid's top bits
MAP_PROPERTIES = ("name", "templates", "equipment", "start_cash_source")


def read_tiled(path: Path) -> TownMap:
    """The town map of a Tiled JSON map; TownFileError naming the file and field otherwise."""
    if not path.exists():
        raise TownFileError(f"{path}: file not found")
    try:
        m = pytiled_parser.parse_map(path)
    except json.JSONDecodeError as e:
        raise TownFileError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from e
    except (UnknownFormat, KeyError, TypeError, ValueError, AttributeError, OSError) as e:
        raise TownFileError(f"{path}: not a Tiled JSON map the parser reads: {type(e).__name__}: {e}") from e
    if m.orientation != "orthogonal" or m.infinite:
        raise TownFileError(f"{path}: field orientation: the town needs a finite orthogonal map")
    tile_layers = [ly for ly in m.layers if isinstance(ly, pytiled_parser.TileLayer)]
    if len(tile_layers) > 1:
        tile_layers = [ly for ly in tile_layers if ly.name == "ground"]
        if len(tile_layers) != 1:
            raise TownFileError(f"{path}: field layers: several tile layers; name the terrain layer 'ground'")
    if not tile_layers:
        raise TownFileError(f"{path}: field layers: no tile layer with the terrain")
    ground = tile_layers[0]
    tiles = _tiles(path, m, ground)
    buildings = _buildings(path, m)
    props = dict(m.properties or {})
    raw: dict[str, Any] = {k: props[k] for k in MAP_PROPERTIES if k in props}
    raw.setdefault("name", path.stem)
    raw.update(tiles=tiles, buildings=buildings)
    try:
        return TownMap.model_validate(raw)
    except ValidationError as e:
        raise TownFileError(describe_errors(path, e)) from e


def _terrain_of(m: Any) -> dict[int, str | None]:
    """Terrain by gid, for the tiles the tilesets describe."""
    out: dict[int, str | None] = {}
    for first, ts in m.tilesets.items():
        for local, tile in (ts.tiles or {}).items():
            props = tile.properties or {}
            t = props.get("terrain") or tile.class_ or None
            out[first + local] = str(t).lower() if t else None
    return out


def _tiles(path: Path, m: Any, ground: Any) -> list[str]:
    terrain = _terrain_of(m)
    data = ground.data or []
    if ground.chunks:
        raise TownFileError(
            f"{path}: field layers.{ground.name}: chunked (infinite) layers are not supported"
        )
    rows = []
    for y, row in enumerate(data):
        cells = []
        for x, gid in enumerate(row):
            gid &= GID_MASK
            if gid == 0:
                cells.append(".")
                continue
            t = terrain.get(gid)
            if t not in TERRAIN:
                raise TownFileError(
                    f"{path}: field layers.{ground.name}.data: cell ({x},{y}) holds tile {gid}, whose "
                    f"terrain is {t!r}; give the tile a class (or a 'terrain' property) of {', '.join(TERRAIN)}"
                )
            cells.append(TERRAIN[t])
        rows.append("".join(cells))
    return rows


def _buildings(path: Path, m: Any) -> list[dict[str, Any]]:
    tw, th = m.tile_size.width, m.tile_size.height
    out = []
    for ly in m.layers:
        if not isinstance(ly, pytiled_parser.ObjectLayer):
            continue
        for i, o in enumerate(ly.tiled_objects):
            where = f"{path}: field layers.{ly.name}.objects.{i} ({o.name or 'unnamed'})"
            if o.class_ not in ("", "building"):
                continue
            props = o.properties or {}
            if "template" not in props:
                raise TownFileError(f"{where}: no 'template' property naming the building template")
            x, y = o.coordinates.x, o.coordinates.y
            if x % tw or y % th:
                raise TownFileError(f"{where}: corner ({x},{y}) px is not on the {tw}x{th} tile grid")
            b: dict[str, Any] = {
                "id": o.name,
                "template": props["template"],
                "x": int(x // tw),
                "y": int(y // th),
            }
            if "label" in props:
                b["name"] = props["label"]
            out.append(b)
    return out
