"""Buildings and equipment as they stand in the world."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.world.town import BuildingTemplate, EquipmentSpec, InnerGrid


def inner_open(inner: InnerGrid) -> list[tuple[int, int]]:
    """The open cells of an inner grid as (dx, dy)."""
    return [(dx, dy) for dy, row in enumerate(inner.rows) for dx, c in enumerate(row) if c == "."]


def extras(s: EquipmentSpec) -> dict[str, object]:
    """The economy fields of an equipment, for clients."""
    return {"functions": [f.model_dump() for f in s.functions], "menu": dict(s.menu), "beds": s.beds}


@dataclass(slots=True)
class Equipment:
    """One equipment inside a building. `users` are the agents using it now."""

    id: str
    building_id: str
    spec: EquipmentSpec
    users: list[str] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return len(self.users) >= self.spec.capacity

    def public(self) -> dict[str, object]:
        s = self.spec
        return {
            "id": self.id,
            "name": s.name,
            "label": s.shown,
            "description": s.description,
            "operations": list(s.operations),
            "price": s.price,
            "income": s.income,
            "capacity": s.capacity,
            "job": s.job,
            "users": list(self.users),
            **extras(s),
        }


@dataclass(slots=True)
class Building:
    """A building on the map. Its footprint blocks walking except the entrance tile."""

    id: str
    template: BuildingTemplate
    name: str
    x: int
    y: int
    owner: str | None
    created_tick: int
    seq: int = 0
    equipment: list[Equipment] = field(default_factory=list)

    @property
    def entrance(self) -> tuple[int, int]:
        return (self.x + self.template.entrance.dx, self.y + self.template.entrance.dy)

    def open_tiles(self) -> set[tuple[int, int]]:
        """The walkable tiles of the footprint: the entrance, and the inner grid's open cells."""
        inner = self.template.inner
        out = {self.entrance}
        if inner is not None:
            out.update((self.x + dx, self.y + dy) for dx, dy in inner_open(inner))
        return out

    def tiles(self) -> list[tuple[int, int]]:
        f = self.template.footprint
        return [(self.x + dx, self.y + dy) for dy in range(f.h) for dx in range(f.w)]

    def public(self) -> dict[str, object]:
        f = self.template.footprint
        ex, ey = self.entrance
        return {
            "id": self.id,
            "name": self.name,
            "template": self.template.name,
            "kind": self.template.kind,
            "description": self.template.description,
            "x": self.x,
            "y": self.y,
            "w": f.w,
            "h": f.h,
            "entrance": {"x": ex, "y": ey},
            "owner": self.owner,
            "equipment": [e.public() for e in self.equipment],
        }
