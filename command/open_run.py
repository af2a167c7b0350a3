"""Open a run (admin): the server shows and ticks run `name` from now on; the run left stays as
its last commit left it. Refused for an archived run. Subscribers get a `reset` push naming the
run, and reload the town."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.runs.models import RunView
from server.runs.switch import open_run

PERMISSION = "admin"


class Request(Model):
    """Which run."""

    name: str = Field(min_length=1, max_length=32)


class Response(Model):
    """The run now open."""

    run: RunView


async def handle(ctx: Context, req: Request) -> Response:
    return Response(run=RunView.of(await open_run(ctx.services, req.name)))
