"""A mayor who thinks: an agent with the mayor role decides with its own LLM calls (prompt kind
`mayor_plan`) which tasks to post toward a town goal, with rewards from its own cash, and on later
calls sees how its tasks went (open, completed, expired) and follows them up.

`context` gathers what the mayor knows (its persona, the goal, the buildings and the jobs they
hire for, the building types, the residents' cash, its own tasks); `post` validates each
proposed task as a `TaskSpec` and posts it on the task board, which holds the reward in escrow.
A proposal the server refuses (bad condition, unknown building, reward beyond the mayor's cash)
is skipped with the reason, and nothing of it changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.prompts.schemas import MayorPlan
from server.errors import GameError
from server.world.tasks import OPEN, TaskSpec

if TYPE_CHECKING:
    from agent.state import AgentRecord
    from server.world.world import World

MAX_OPEN = 3  # open tasks a mayor agent keeps at once


@dataclass(slots=True)
class Outcome:
    """What one round of the mayor's thinking did."""

    posted: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reason: str = ""


def context(world: World, mayor: AgentRecord, goal: str) -> dict[str, Any]:
    """The `mayor_plan` prompt's context."""
    board = world.task_board
    mine = [t for t in board.tasks.values() if t.mayor == mayor.id]
    open_now = sum(1 for t in mine if t.status == OPEN)
    return {
        "name": mayor.name,
        "bio": mayor.bio,
        "goal": mayor.goal,
        "clock": str(world.clock),
        "cash": mayor.cash,
        "town_goal": goal,
        "max_new": max(0, MAX_OPEN - open_now),
        "buildings": [
            {
                "id": b.id,
                "name": b.name,
                "kind": b.template.kind,
                "template": b.template.name,
                "jobs": sorted({e.spec.job for e in b.equipment if e.spec.job}),
            }
            for b in world.buildings.values()
        ],
        "templates": [
            {"name": t.name, "kind": t.kind, "price": t.price} for t in world.town.templates.values()
        ],
        "agents": len(world.agents),
        "agents_cash": sum(a.cash for a in world.agents.values()),
        "my_tasks": [
            {
                "id": t.id,
                "title": t.model.title,
                "status": t.status,
                "progress": f"{t.done}/{t.target}",
                "reward": t.model.reward,
                "condition": t.spec["condition"],
            }
            for t in mine
        ],
    }


def post(world: World, mayor: AgentRecord, plan: MayorPlan) -> Outcome:
    """Post the plan's tasks that the server accepts; the others are skipped with the reason."""
    out = Outcome(reason=plan.reason)
    board = world.task_board
    open_now = sum(1 for t in board.tasks.values() if t.mayor == mayor.id and t.status == OPEN)
    for i, proposal in enumerate(plan.tasks):
        if open_now >= MAX_OPEN:
            out.skipped.append(f"task {i}: the mayor already has {MAX_OPEN} open tasks")
            continue
        try:
            spec = TaskSpec.model_validate(proposal.model_dump())
            t = board.post(world, spec, mayor.id)
        except ValidationError as e:
            out.skipped.append(f"task {i} ({proposal.title!r}): {e.errors()[0]['msg']}")
            continue
        except GameError as e:
            out.skipped.append(f"task {i} ({proposal.title!r}): {e.message}")
            continue
        open_now += 1
        out.posted.append(t.public())
    return out
