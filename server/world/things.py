"""Buildings and equipment as they stand in the world."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.world.town import BuildingTemplate, EquipmentSpec


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
            "description": s.description,
            "operations": list(s.operations),
            "price": s.price,
            "income": s.income,
            "capacity": s.capacity,
            "job": s.job,
            "users": list(self.users),
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
