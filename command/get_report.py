"""The run report as JSON: cash per agent over time, LLM calls, tokens and cost per tick, task progress,
who talked with whom, and the diffusion of seeded facts through agents' memories. The same report
is served as HTML with plots at GET /report (JSON at /report.json). Open to everyone."""

from __future__ import annotations

from typing import Any

from server.context import Context
from server.protocol import Model

PERMISSION = "viewer"


class Request(Model):
    """No fields."""


class Response(Model):
    """The report (see README: Run report)."""

    report: dict[str, Any]


async def handle(ctx: Context, req: Request) -> Response:
    return Response(report=await ctx.services.reports.report())
