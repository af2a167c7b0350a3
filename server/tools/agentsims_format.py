"""AgentSims' town configuration, as read by the importer (`server.tools.import_agentsims`).

The models mirror AgentSims' `config/` files: `buildings.json` (building types with a grid of
blocked cells and a grid of equipment type ids), `equipments.json` (equipment types with their
`functions`), `economics.json` (menus and salaries), `framework.json` (the placed town: a sparse
map of cells, placed buildings and placed equipment) and `agent.json` (the choices offered for new
agents). Unknown fields are allowed here, so that the importer can list them as not carried over
instead of refusing the file; `npcs.json` is ours: AgentSims creates agents at run time, so the
importer reads agents to create from a list of its NPC-creation fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def unknown(self) -> list[str]:
        """The fields present in the file that this model does not know."""
        return sorted((self.model_extra or {}).keys())


class ASFunction(_Loose):
    """One operation of an equipment type."""

    action: str = Field(min_length=1)
    cost: int = Field(default=0, ge=0)
    earn: int = Field(default=0, ge=0)
    onlyOwner: bool = False  # noqa: N815 - AgentSims' field name


class ASEquipment(_Loose):
    """An equipment type (`equipments.json`)."""

    id: int
    type: str = Field(min_length=1)
    width: int = Field(default=1, ge=1)
    height: int = Field(default=1, ge=1)
    assets: str | None = None
    description: str = ""
    functions: list[ASFunction] = Field(default_factory=list)
    economic: int | None = None
    hireCapacity: int = Field(default=0, ge=0)  # noqa: N815
    livingCapacity: int = Field(default=0, ge=0)  # noqa: N815


class ASBuilding(_Loose):
    """A building type (`buildings.json`): `blocks[row][col]` is 1 where walking is blocked,
    `equipments[row][col]` an equipment type id where one stands (its top-left cell), else 0."""

    id: int
    type: str = Field(min_length=1)
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    blocks: list[list[int]]
    equipments: list[list[int]] = Field(default_factory=list)
    price: int = Field(default=0, ge=0)
    assets: str | None = None


class ASEconomic(_Loose):
    """An entry of `economics.json`: the menu an equipment sells and a salary."""

    id: int
    menu: dict[str, int] = Field(default_factory=dict)
    salary: int = 0


class ASPlaced(_Loose):
    """A placed building or equipment in `framework.json`: type `t`, corners (lx, ty)-(rx, by),
    rotation `r`, and for equipment the placed building `b` it stands in."""

    id: int
    n: str = ""
    t: int
    lx: int = Field(ge=0)
    ty: int = Field(ge=0)
    rx: int = Field(ge=0)
    by: int = Field(ge=0)
    r: int = 0
    b: int | None = None


class ASFramework(_Loose):
    """`framework.json`: `map[x][y]` cells with `block`, `building` and `equipment` keys."""

    map: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    buildings: list[ASPlaced] = Field(default_factory=list)
    equipments: list[ASPlaced] = Field(default_factory=list)


class ASAgentConfig(_Loose):
    """`agent.json`: the sprites, models, memory and plan systems a new agent may choose."""

    assets: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    memorySystems: list[str] = Field(default_factory=list)  # noqa: N815
    planSystems: list[str] = Field(default_factory=list)  # noqa: N815


class ASNpc(_Loose):
    """An agent to create, in the fields of AgentSims' NPC creation (`npcs.json`, optional)."""

    nickname: str = Field(min_length=1, max_length=40)
    bio: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    cash: int = Field(default=100, ge=0)
    asset: str | None = None
    model: str | None = None
    memorySystem: str | None = None  # noqa: N815
    planSystem: str | None = None  # noqa: N815
    homeBuilding: int | None = None  # noqa: N815
    workBuilding: int | None = None  # noqa: N815


class EquipmentFile(RootModel[list[ASEquipment]]):
    """`equipments.json`."""


class BuildingFile(RootModel[list[ASBuilding]]):
    """`buildings.json`."""


class EconomicsFile(RootModel[list[ASEconomic]]):
    """`economics.json`."""


class NpcFile(RootModel[list[ASNpc]]):
    """`npcs.json`."""
