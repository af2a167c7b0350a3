"""What the prompts are given: the helpers every plug-in and the actor use to turn a `Perception`
into prompt context, and to read a model's choice of building back against it."""

from __future__ import annotations

from typing import Any

from agent.interfaces import AgentBrief, BuildingView, EquipmentView, Perception, TaskView
from agent.prompts import places_lines


def building_context(b: BuildingView) -> dict[str, Any]:
    """A building as prompt context (JSON-safe)."""
    return {
        "id": b.id,
        "name": b.name,
        "kind": b.kind,
        "description": b.description,
        "equipment": [
            {
                "id": e.id,
                "name": e.name,
                "description": e.description,
                "operations": list(e.operations),
                "price": e.price,
                "income": e.income,
                "free": max(0, e.capacity - e.in_use),
                **_prices(e),
            }
            for e in b.equipment
        ],
    }


def _prices(e: EquipmentView) -> dict[str, Any]:
    """Per-operation prices and the menu, for equipment that has them."""
    out: dict[str, Any] = {}
    if e.functions:
        out["prices"] = {
            name: {"cost": cost, "earn": earn, **({"staff_only": True} if staff else {})}
            for name, cost, earn, staff in e.functions
        }
    if e.menu:
        out["menu"] = dict(e.menu)
    return out


def _brief(a: AgentBrief) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "distance": a.distance, "state": a.state, "purpose": a.purpose}


def _task(t: TaskView) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "reward": t.reward,
        "building_id": t.building_id,
        "holders": len(t.holder_ids),
    }


def town_places(p: Perception) -> str:
    """The town's places as the prompts' stable prefix text (see `agent.prompts.places_text`)."""
    return places_lines(tuple((b.id, b.name, b.kind, b.description) for b in p.buildings))


def perception_context(p: Perception, **extra: Any) -> dict[str, Any]:
    """The context keys every kind may read, from a perception, plus `extra`.

    Keys: agent_id, name, bio, goal, cash, tick, day, minute_of_day, clock, building_id, job,
    buildings (list of building_context), nearby, tasks, events.
    """
    town = {
        "buildings": [building_context(b) for b in p.buildings],
        "nearby": [_brief(a) for a in p.nearby],
        "tasks": [_task(t) for t in p.tasks],
        "events": list(p.events),
    }
    return persona_context(p, **{**town, **extra})  # `extra` wins, as before


def fallback_building(p: Perception) -> str:
    """A deterministic safe destination: the current building, else the workplace, else the first
    building; "" only when the town has no buildings at all."""
    ids = [b.id for b in p.buildings]
    for candidate in (p.building_id, p.job):
        if candidate is not None and candidate in ids:
            return candidate
    return ids[0] if ids else ""


def resolve_building(p: Perception, choice: str | None) -> str | None:
    """The id of the building the model named (by id, or by name ignoring case), or None."""
    if not choice:
        return None
    wanted = choice.strip()
    for b in p.buildings:
        if b.id == wanted:
            return b.id
    lowered = wanted.lower()
    for b in p.buildings:
        if b.name.lower() == lowered or b.id.lower() == lowered:
            return b.id
    return None


def persona_context(p: Perception, **extra: Any) -> dict[str, Any]:
    """The few keys the persona part of every prompt reads (no town), plus `extra`.

    Keys: agent_id, name, bio, goal, cash, tick, day, clock, building_id.
    """
    ctx: dict[str, Any] = {
        "agent_id": p.agent_id,
        "name": p.name,
        "bio": p.bio,
        "goal": p.goal,
        "cash": p.cash,
        "tick": p.tick,
        "day": p.day,
        "clock": p.clock,
        "minute_of_day": p.minute_of_day,
        "building_id": p.building_id,
        "home": p.home,
        "job": p.job,
        "places": town_places(p),
    }
    ctx.update(extra)
    return ctx


def subject_name(p: Perception, subject: str) -> str:
    """The display name of an agent in sight or a building with id `subject`, else `subject`."""
    for a in p.nearby:
        if a.id == subject:
            return a.name
    for b in p.buildings:
        if b.id == subject:
            return b.name
    return subject
