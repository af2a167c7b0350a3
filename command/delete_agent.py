"""Delete an agent (its owner, or the admin). Its cash goes to `sink:consumption` through the
ledger, so the books stay balanced; its history (ledger, memories, events) is kept.
Subscribers get an `agent_removed` push."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import Forbidden
from server.protocol import Model
from server.world import population

PERMISSION = "player"


class Request(Model):
    """Which agent."""

    agent_id: str = Field(min_length=1, max_length=64)


class Response(Model):
    """The deleted agent's id and the cash it held."""

    agent_id: str
    cash: int


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    async with w.lock:
        a = w.agent(req.agent_id)
        if not ctx.session.may_act_as(a.owner):
            raise Forbidden(f"agent {a.id} is not yours to delete")
        cash = a.cash
        population.remove_agent(w, a.id)
        w.event("delete_agent", f"{a.name} left town", a.id)
        await w.commit()
    ctx.services.hub.forget([a.id])
    ctx.services.hub.publish("agent_removed", {"agent_id": a.id})
    return Response(agent_id=a.id, cash=cash)
