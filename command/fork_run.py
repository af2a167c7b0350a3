"""Fork a run into a new named run (admin): a whole copy of `source` (default: the open run) as it
is now, or as it was at one of its kept checkpoints (`tick`; one every `runs.checkpoint_every`
ticks). The new run records its parent and fork tick. Subscribers get a `runs` push (`change`
`forked`); with `open=true` the server then opens it (and they get a `reset` push). The source is
not changed."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.runs.models import RunView
from server.runs.switch import open_run, runs_changed, store_of

PERMISSION = "admin"


class Request(Model):
    """What to copy, from when, and the new run's name."""

    name: str = Field(min_length=1, max_length=32)
    source: str | None = Field(default=None, max_length=32)  # default: the open run
    tick: int | None = Field(default=None, ge=0)  # a kept checkpoint's tick; default: now
    open: bool = False


class Response(Model):
    """The new run."""

    run: RunView


async def handle(ctx: Context, req: Request) -> Response:
    runs = store_of(ctx.services)
    info = await runs.fork(req.source or runs.current, req.name, tick=req.tick, lock=ctx.world.lock)
    runs_changed(ctx.services, "forked", info.name)
    if req.open:
        info = await open_run(ctx.services, info.name)
    return Response(run=RunView.of(info))
