"""The town as authored in JSON: the tile map, building templates, equipment and agent presets.

Every file is validated when loaded; a mistake raises `TownFileError` naming the file, the field
and what is wrong, and the server does not start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

M = TypeVar("M", bound=BaseModel)

WALKABLE = "."
BLOCKED = "#"
TILE_CHARS = {".": True, "#": False, "~": False, ",": True, "=": True}  # floor, wall, water, grass, road


class TownFileError(Exception):
    """A town file is missing or invalid. The message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operation(_Strict):
    """One thing an equipment offers, with its own price: `cost` is paid by the user, `earn` paid
    to the user; `owner_only` operations are for the building's owner and employees."""

    name: str = Field(min_length=1, max_length=64)
    cost: int = Field(default=0, ge=0)
    earn: int = Field(default=0, ge=0)
    owner_only: bool = False


class EquipmentSpec(_Strict):
    """An equipment type: what it does, what it costs to use, what it pays.

    Either plain `operations` sharing one `price`/`income`, or `functions` each with its own cost
    and earning (then `operations` lists the functions' names). A `menu` lists items with prices
    a user buys in quantities; `beds` make the building a home with that many beds."""

    name: str = Field(min_length=1, max_length=64)
    label: str | None = Field(default=None, max_length=64)  # shown name; several specs may share it
    description: str = ""
    operations: list[str] = Field(min_length=1)
    price: int = Field(default=0, ge=0)  # paid by the user per use
    income: int = Field(default=0, ge=0)  # paid to the user per use (work)
    capacity: int = Field(default=1, ge=1)
    job: str | None = None  # the job title this equipment employs, e.g. "cook"
    functions: list[Operation] = Field(default_factory=list)
    menu: dict[str, int] = Field(default_factory=dict)  # item -> price per unit
    beds: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _operations_from_functions(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("functions") and "operations" not in data:
            fs = data["functions"]
            data = {**data, "operations": [f.get("name") if isinstance(f, dict) else f.name for f in fs]}
        return data

    @model_validator(mode="after")
    def _functions_match(self) -> EquipmentSpec:
        if self.functions:
            names = [f.name for f in self.functions]
            if len(set(names)) != len(names):
                raise ValueError(f"functions have duplicate names: {names}")
            if self.operations != names:
                raise ValueError(f"operations {self.operations} must list the functions' names {names}")
            if self.price or self.income:
                raise ValueError("give each function its cost and earn instead of price/income")
        for item, p in self.menu.items():
            if not item.strip() or len(item) > 64:
                raise ValueError(f"menu item {item!r} needs a name of 1 to 64 characters")
            if p < 1:
                raise ValueError(f"menu item {item!r} costs {p}; prices are at least 1")
        return self

    @property
    def shown(self) -> str:
        """The name users see: the label when there is one."""
        return self.label or self.name

    def operation(self, name: str) -> Operation:
        """The operation called `name` (case-insensitive) with its price; KeyError if none."""
        for f in self.functions:
            if f.name.lower() == name.lower():
                return f
        for o in self.operations:
            if o.lower() == name.lower():
                return Operation(name=o, cost=self.price, earn=self.income)
        raise KeyError(name)


class Offset(_Strict):
    """A tile offset inside a footprint."""

    dx: int = Field(ge=0)
    dy: int = Field(ge=0)


class Size(_Strict):
    """A footprint in tiles."""

    w: int = Field(ge=1, le=64)
    h: int = Field(ge=1, le=64)


class Placement(_Strict):
    """Where one of a template's equipment stands in its inner grid (top-left cell)."""

    equipment: str
    dx: int = Field(ge=0)
    dy: int = Field(ge=0)


class InnerGrid(_Strict):
    """The inside of a building: one row per footprint row, '.' open (walkable), '#' blocked."""

    rows: list[str] = Field(min_length=1)
    places: list[Placement] = Field(default_factory=list)

    @field_validator("rows")
    @classmethod
    def _cells(cls, rows: list[str]) -> list[str]:
        for i, row in enumerate(rows):
            bad = set(row) - {WALKABLE, BLOCKED}
            if bad:
                raise ValueError(f"row {i} has {sorted(bad)}; inner cells are '.' (open) or '#' (blocked)")
        return rows

    def open(self, dx: int, dy: int) -> bool:
        return self.rows[dy][dx] == WALKABLE


class BuildingTemplate(_Strict):
    """A building type players and the town can put up. Without `inner` the whole footprint
    blocks walking except the entrance; with it, its open cells are walkable too."""

    name: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1)
    description: str = ""
    footprint: Size
    entrance: Offset
    price: int = Field(default=0, ge=0)
    equipment: list[str] = Field(default_factory=list)
    inner: InnerGrid | None = None

    @model_validator(mode="after")
    def _entrance_on_edge(self) -> BuildingTemplate:
        e, f = self.entrance, self.footprint
        if e.dx >= f.w or e.dy >= f.h:
            raise ValueError(f"entrance ({e.dx},{e.dy}) lies outside the {f.w}x{f.h} footprint")
        if self.inner is not None:
            g = self.inner
            if len(g.rows) != f.h or any(len(r) != f.w for r in g.rows):
                raise ValueError(f"inner.rows must be {f.h} rows of {f.w} cells, the footprint's size")
            if not g.open(e.dx, e.dy):
                raise ValueError(f"entrance ({e.dx},{e.dy}) is a blocked cell of inner.rows")
            for i, pl in enumerate(g.places):
                if pl.dx >= f.w or pl.dy >= f.h:
                    raise ValueError(f"inner.places.{i} ({pl.dx},{pl.dy}) lies outside the footprint")
                if pl.equipment not in self.equipment:
                    raise ValueError(
                        f"inner.places.{i} places {pl.equipment!r}, which is not in equipment {self.equipment}"
                    )
        return self


class PlacedBuilding(_Strict):
    """A building standing in the town at start."""

    id: str = Field(pattern=r"^[a-z0-9_\-]{1,40}$")
    template: str
    name: str | None = None
    x: int = Field(ge=0)
    y: int = Field(ge=0)


class TownMap(_Strict):
    """The tile map and what stands on it. Rows are strings: '.' floor, ',' grass, '=' road
    (walkable); '#' wall, '~' water (blocked)."""

    name: str = "town"
    tiles: list[str] = Field(min_length=1)
    buildings: list[PlacedBuilding] = Field(default_factory=list)
    templates: str = "templates.json"
    equipment: str = "equipment.json"
    start_cash_source: str = "grant"

    @field_validator("tiles")
    @classmethod
    def _rectangular(cls, rows: list[str]) -> list[str]:
        width = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != width:
                raise ValueError(
                    f"row {i} has {len(row)} tiles, row 0 has {width}: the map must be rectangular"
                )
            bad = set(row) - TILE_CHARS.keys()
            if bad:
                raise ValueError(
                    f"row {i} has unknown tile characters {sorted(bad)}; known: {sorted(TILE_CHARS)}"
                )
        return rows

    @property
    def width(self) -> int:
        return len(self.tiles[0])

    @property
    def height(self) -> int:
        return len(self.tiles)


class AgentPreset(_Strict):
    """An agent created when a new town starts."""

    name: str = Field(min_length=1, max_length=40)
    bio: str = Field(min_length=1, max_length=2000)
    goal: str = Field(min_length=1, max_length=500)
    cash: int = Field(default=100, ge=0)
    sprite: str = "default"
    llm: str = "default"
    plan: str = "qa"
    memory: str = "long_term"
    home: str | None = None  # building id the agent starts at
    facts: list[str] = Field(default_factory=list)  # seeded knowledge (information diffusion)


class AgentPresets(_Strict):
    """The agent presets file."""

    agents: list[AgentPreset]


def read_json_model(path: Path, model: type[M]) -> M:
    """Load and validate one JSON file; errors name the file and the field."""
    try:
        raw: Any = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise TownFileError(f"{path}: file not found") from e
    except json.JSONDecodeError as e:
        raise TownFileError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from e
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise TownFileError(describe_errors(path, e)) from e


def describe_errors(path: Path | str, e: ValidationError) -> str:
    """One line per problem: file, dotted field path, message."""
    lines = [f"{path}: {e.error_count()} problem(s)"]
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        lines.append(f"  {path}: field {loc}: {err['msg']}")
    return "\n".join(lines)


class _TemplateList(_Strict):
    templates: list[BuildingTemplate]


class _EquipmentList(_Strict):
    equipment: list[EquipmentSpec]


class TownFiles:
    """A validated town: map, templates by name, equipment by name. Cross-references checked."""

    def __init__(self, town_path: Path):
        self.path = town_path
        if town_path.suffix == ".tmj":  # a map drawn in Tiled
            from server.world.tiled import read_tiled

            self.map = read_tiled(town_path)
        else:
            self.map = read_json_model(town_path, TownMap)
        tdir = town_path.parent
        tl = read_json_model(tdir / self.map.templates, _TemplateList)
        el = read_json_model(tdir / self.map.equipment, _EquipmentList)
        self.templates = _unique(
            tdir / self.map.templates, "templates", [t.name for t in tl.templates], tl.templates
        )
        self.equipment = _unique(
            tdir / self.map.equipment, "equipment", [e.name for e in el.equipment], el.equipment
        )
        for i, t in enumerate(tl.templates):
            for j, eq in enumerate(t.equipment):
                if eq not in self.equipment:
                    raise TownFileError(
                        f"{tdir / self.map.templates}: field templates.{i}.equipment.{j}: unknown equipment "
                        f"{eq!r}; known: {sorted(self.equipment)}"
                    )
        seen: set[str] = set()
        for i, b in enumerate(self.map.buildings):
            if b.template not in self.templates:
                raise TownFileError(
                    f"{town_path}: field buildings.{i}.template: unknown template {b.template!r}; "
                    f"known: {sorted(self.templates)}"
                )
            if b.id in seen:
                raise TownFileError(f"{town_path}: field buildings.{i}.id: duplicate id {b.id!r}")
            seen.add(b.id)


def _unique(path: Path, field: str, names: list[str], items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (n, it) in enumerate(zip(names, items, strict=True)):
        if n in out:
            raise TownFileError(f"{path}: field {field}.{i}.name: duplicate name {n!r}")
        out[n] = it
    return out


def load_presets(path: Path) -> list[AgentPreset]:
    """Agent presets from JSON."""
    return read_json_model(path, AgentPresets).agents
