"""Receive state pushes on this connection: `tick` deltas (agents moved, chats, events),
`agent_added`, `agent_removed`, `building_added`, `chat` lines, `paused`, `reset` and `runs` (a
run was forked, archived, unarchived or deleted). Open to everyone. With `compact`, tick deltas come as `tick_compact` pushes instead (positions as flat
arrays, strings sent once; see docs/protocol.md, "Compact tick pushes"), and the answer carries
the string table so far."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model

PERMISSION = "viewer"


class Request(Model):
    """`on` false unsubscribes; `compact` chooses `tick_compact` over `tick` pushes."""

    on: bool = True
    compact: bool = False


class Response(Model):
    """Whether this session now receives pushes, and the tick it starts from; with `compact`,
    the string table's entries so far (index = position), which later pushes extend."""

    subscribed: bool
    tick: int
    strings: list[str] | None = None


async def handle(ctx: Context, req: Request) -> Response:
    s = ctx.session
    hub = ctx.services.hub
    if req.on:
        hub.add(s)
    else:
        hub.remove(s)
    s.subscribed = req.on
    s.compact = req.on and req.compact
    return Response(
        subscribed=req.on,
        tick=ctx.world.clock.tick,
        strings=hub.strings.snapshot() if s.compact else None,
    )
