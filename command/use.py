"""The player's avatar uses equipment in the building it stands in, through the same rules and
ledger as an agent's `use` action: it pays the price (per operation, plus a menu order's items),
earns the income (per started half hour; staff-only operations and a job's wage as for agents),
and is busy for `minutes` game minutes. Using ends the avatar's open conversation. A refused use (not here, full, too dear, not staff)
answers `action_refused` and moves no cash."""

from __future__ import annotations

from pydantic import Field

from agent.interfaces import Action
from server.context import Context
from server.protocol import Model
from server.world import avatar, rules

PERMISSION = "player"


class Request(Model):
    """The equipment, the operation, how long, and a menu order."""

    equipment_id: str = Field(min_length=1, max_length=64)
    operation: str | None = Field(default=None, max_length=64)
    minutes: int = Field(default=30, ge=1, le=240)
    items: dict[str, int] = Field(default_factory=dict, description="a menu order: item -> quantity")


class Response(Model):
    """What the use did to the avatar."""

    agent_id: str
    cash: int  # after paying and earning
    activity: str
    busy_until: int  # the tick the use ends


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    async with w.lock:
        a = avatar.mine(w, ctx.session.player)
        if a.conversation is not None:
            avatar.leave_conversation(w, a, "walked away")
        rules.apply(
            w,
            a,
            Action(
                "use",
                equipment_id=req.equipment_id,
                operation=req.operation,
                minutes=req.minutes,
                items=tuple(req.items.items()),
            ),
        )
        await w.commit()
    return Response(agent_id=a.id, cash=a.cash, activity=a.activity, busy_until=a.busy_until)
