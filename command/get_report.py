"""The run report as JSON: cash per agent over time, LLM calls, tokens and cost per tick, task progress,
who talked with whom, and the diffusion of seeded facts through agents' memories. The same report
is served as HTML with plots at GET /report (JSON at /report.json). Open to everyone."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model
from server.report import build_report
from server.report.model import Report

PERMISSION = "viewer"


class Request(Model):
    """No fields."""


class Response(Model):
    """The report (see docs/mayor.md: Run report)."""

    report: Report


async def handle(ctx: Context, req: Request) -> Response:
    return Response(report=Report.model_validate(await build_report(ctx.world)))
