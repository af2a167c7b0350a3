"""The player's avatar leaves the town: its conversation ends, its job ends, and its cash goes to
`sink:consumption` through the ledger (the books stay balanced; `join` grants a new wallet).
Subscribers get an `agent_removed` push."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model
from server.world import avatar, population

PERMISSION = "player"


class Request(Model):
    """Nothing: the session's own avatar leaves."""


class Response(Model):
    """The avatar that left and the cash it held."""

    agent_id: str
    cash: int


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    async with w.lock:
        a = avatar.mine(w, ctx.session.player)
        cash = a.cash
        population.remove_agent(w, a.id)
        w.event("leave", f"{a.name} left the town", a.id)
        await w.commit()
    ctx.services.hub.forget([a.id])
    ctx.services.hub.publish("agent_removed", {"agent_id": a.id})
    return Response(agent_id=a.id, cash=cash)
