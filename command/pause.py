"""Pause or resume ticking (admin). While paused, `tick` is refused with code `paused`, so
`tick.py` and the browser's play button wait. Subscribers get a `paused` push."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model

PERMISSION = "admin"


class Request(Model):
    """`on` true pauses, false resumes."""

    on: bool = True


class Response(Model):
    """Whether ticking is paused now."""

    paused: bool


async def handle(ctx: Context, req: Request) -> Response:
    ctx.services.paused = req.on
    ctx.services.hub.publish("paused", {"paused": req.on})
    return Response(paused=req.on)
