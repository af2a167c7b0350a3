"""Housing: a home is a building whose equipment has beds (`beds` in equipment.json, AgentSims'
`livingCapacity`); each agent lives in one (`AgentRecord.home`).

A town with no beds at all has no housing: agents are not given homes and nothing is limited
(the `home` an agent is created with is only where it starts). A town with beds gives every new
agent a bed: in the home asked for, or else in the home with the most free beds; when there is
none free it refuses the agent with `NoFreeBed`, naming the fullest homes. Who lives where is
the agents' `home` field, stored with them, so the limits hold across a restart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.errors import NoFreeBed

if TYPE_CHECKING:
    from server.world.things import Building
    from server.world.world import World


@dataclass(frozen=True, slots=True)
class Home:
    """A home, its beds and who lives there."""

    id: str
    name: str
    beds: int
    residents: tuple[str, ...]

    @property
    def free(self) -> int:
        return max(0, self.beds - len(self.residents))

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "beds": self.beds,
            "residents": list(self.residents),
            "free": self.free,
        }

    def __str__(self) -> str:
        return f"{self.name} ({self.id}) {len(self.residents)}/{self.beds}"


def beds(b: Building) -> int:
    """The beds of a building: the sum of its equipment's beds."""
    return sum(e.spec.beds for e in b.equipment)


def homes(world: World) -> list[Home]:
    """Every building with beds, in id order, with its residents."""
    living: dict[str, list[str]] = {}
    for a in world.agents.values():
        if a.home is not None:
            living.setdefault(a.home, []).append(a.id)
    out = []
    for bid in sorted(world.buildings):
        b = world.buildings[bid]
        n = beds(b)
        if n:
            out.append(Home(b.id, b.name, n, tuple(sorted(living.get(b.id, ())))))
    return out


def bed_for(world: World, wanted: str | None) -> str | None:
    """The home a new agent moves into: `wanted` if it has a free bed, else the home with the
    most free beds (ties by id). Without housing in this town, `wanted` as given. Raises
    NoFreeBed, naming the fullest homes, when none is free."""
    hs = homes(world)
    if not hs:
        return wanted
    if wanted is not None:
        h = next((h for h in hs if h.id == wanted), None)
        if h is None:
            raise NoFreeBed(f"{wanted!r} is not a home (it has no beds); homes: {[x.id for x in hs]}")
        if h.free == 0:
            raise NoFreeBed(f"{h.name} has no free bed ({h}); free beds: {free_summary(hs)}")
        return h.id
    best = min(hs, key=lambda h: (-h.free, h.id))
    if best.free == 0:
        fullest = sorted(hs, key=lambda h: (-len(h.residents), h.id))[:3]
        raise NoFreeBed(
            f"no free bed in town ({sum(h.beds for h in hs)} beds, all taken); "
            f"the fullest homes: {', '.join(str(h) for h in fullest)}"
        )
    return best.id


def free_summary(hs: list[Home]) -> str:
    """'3 in house-a, 1 in house-b' or 'none'."""
    free = [f"{h.free} in {h.id}" for h in hs if h.free]
    return ", ".join(free) or "none"
