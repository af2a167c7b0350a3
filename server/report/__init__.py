"""Run reports: what happened in a run (tick or mayor mode), as JSON and as an HTML page with
inline SVG plots. `build_report(world)` reads the database (ledger, ticks, llm_calls, events,
memories) and the task board; `server.report.html.render(report)` turns it into one HTML page."""

from server.report.build import build_report

__all__ = ["build_report"]
