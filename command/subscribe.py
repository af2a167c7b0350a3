"""Receive state pushes on this connection: `tick` deltas (agents moved, chats, events),
`agent_added`, `building_added`, `chat` lines and `paused`. Open to everyone."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model

PERMISSION = "viewer"


class Request(Model):
    """`on` false unsubscribes."""

    on: bool = True


class Response(Model):
    """Whether this session now receives pushes, and the tick it starts from."""

    subscribed: bool
    tick: int


async def handle(ctx: Context, req: Request) -> Response:
    s = ctx.session
    if req.on:
        ctx.services.hub.add(s)
    else:
        ctx.services.hub.remove(s)
    s.subscribed = req.on
    return Response(subscribed=req.on, tick=ctx.world.clock.tick)
