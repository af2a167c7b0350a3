"""Archive a run (admin), or bring it back with `archived=false`. An archived run is kept whole
but listed only on request and cannot be opened; it can still be forked. The open run cannot be
archived. Subscribers get a `runs` push (`change` `archived` or `unarchived`)."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.runs.models import RunView
from server.runs.switch import runs_changed, store_of

PERMISSION = "admin"


class Request(Model):
    """Which run, and whether it is archived."""

    name: str = Field(min_length=1, max_length=32)
    archived: bool = True


class Response(Model):
    """The run as it is now."""

    run: RunView


async def handle(ctx: Context, req: Request) -> Response:
    info = await store_of(ctx.services).archive(req.name, req.archived)
    runs_changed(ctx.services, "archived" if req.archived else "unarchived", info.name)
    return Response(run=RunView.of(info))
