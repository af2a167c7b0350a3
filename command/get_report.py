"""The run report as JSON: cash per agent over time, LLM calls, tokens and cost per tick, task progress,
who talked with whom, and the diffusion of seeded facts through agents' memories. The same report
is served as HTML with plots at GET /report (JSON at /report.json); `html` true adds that page to
the answer (what mayor.py writes beside the JSON). Open to everyone."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.report.html import render
from server.report.model import Report
from server.runs.research import research_html, research_section

PERMISSION = "viewer"


class Request(Model):
    """`html` true: the report's HTML page too."""

    html: bool = False


class Response(Model):
    """The report (see docs/mayor.md: Run report)."""

    report: Report
    html: str | None = Field(default=None, description="the page GET /report serves, when asked for")


async def handle(ctx: Context, req: Request) -> Response:
    rep = dict(await ctx.services.reports.report())  # kept as ticks commit
    rep.update(await research_section(ctx.services))  # the run's lineage and probes
    html = render(rep, extra=research_html(rep)) if req.html else None
    return Response(report=Report.model_validate(rep), html=html)
