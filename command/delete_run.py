"""Delete a run and its checkpoints for good (admin): its database is dropped; no other run is
touched. Never `main` (the configured database) and never the open run: open another first.
`confirm` must be true. Subscribers get a `runs` push (`change` `deleted`)."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import InvalidRequest
from server.protocol import Model
from server.runs.switch import runs_changed, store_of

PERMISSION = "admin"


class Request(Model):
    """Which run; `confirm` must be true: a deletion cannot be undone."""

    name: str = Field(min_length=1, max_length=32)
    confirm: bool = False


class Response(Model):
    """The run deleted and the ticks of the checkpoints deleted with it."""

    name: str
    checkpoints: list[int]


async def handle(ctx: Context, req: Request) -> Response:
    if not req.confirm:
        raise InvalidRequest(f"delete_run drops run {req.name!r} for good: send it with confirm=true")
    checkpoints = await store_of(ctx.services).delete(req.name)
    runs_changed(ctx.services, "deleted", req.name)
    return Response(name=req.name, checkpoints=checkpoints)
