"""A run's probe scores (default: the open run), oldest first: per probe, agent and tick, the
answer, the value the metric read and the score (0..1). Open to everyone."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.runs.probes import ProbeScore, scores_of
from server.runs.switch import run_repository

PERMISSION = "viewer"


class Request(Model):
    """Which run, and optionally one probe."""

    run: str | None = Field(default=None, max_length=32)
    probe: str | None = Field(default=None, max_length=64)


class Response(Model):
    """The scores."""

    scores: list[ProbeScore]


async def handle(ctx: Context, req: Request) -> Response:
    async with run_repository(ctx.services, req.run) as repo:
        scores = await scores_of(repo)
    return Response(scores=[s for s in scores if req.probe is None or s.probe == req.probe])
