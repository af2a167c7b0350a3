"""The runs on this server (see docs/runs.md): each one's lineage (parent and fork tick), tick,
agents, kept checkpoints, and which one is open. Archived runs only with `archived=true`."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model
from server.runs.models import RunView
from server.runs.switch import store_of

PERMISSION = "viewer"


class Request(Model):
    """Whether to list archived runs too."""

    archived: bool = False


class Response(Model):
    """Every run, `main` first, and the open run's name."""

    runs: list[RunView]
    open: str


async def handle(ctx: Context, req: Request) -> Response:
    runs = store_of(ctx.services)
    return Response(runs=[RunView.of(r) for r in await runs.runs(archived=req.archived)], open=runs.current)
