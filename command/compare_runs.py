"""Runs side by side (default: the open run and its parent): per run its lineage, tick, agents'
cash, tasks done, the diffusion of seeded facts, the latest probe scores and their series, chat
lines, LLM calls, tokens and cost. The same as HTML at GET /report/compare?runs=a,b (JSON at
/report/compare.json). Open to everyone; it changes nothing."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.runs.models import RunFigures
from server.runs.research import compare, default_pair

PERMISSION = "viewer"


class Request(Model):
    """The runs to compare, 1 to 6."""

    runs: list[str] = Field(default_factory=list, max_length=6)


class Response(Model):
    """Each run's figures, in the order asked."""

    runs: list[RunFigures]


async def handle(ctx: Context, req: Request) -> Response:
    cmp = await compare(ctx.services, req.runs or await default_pair(ctx.services))
    return Response(runs=[RunFigures.model_validate(r) for r in cmp["runs"]])
