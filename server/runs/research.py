"""What the runs add to the report: the open run's lineage and probe scores over time, and the
comparison of runs side by side (cash, tasks, diffusion, probe scores, calls and cost).

A run other than the open one is read by loading it into a scratch `World` of its own (its
repository opened for the purpose and closed after), so its figures come from the same report
code as the open run's.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

import tornado.web

from config.settings import ROOT
from server.context import Services
from server.db.repository import Repository
from server.errors import GameError
from server.report import build_report
from server.report.html import line_chart
from server.runs.probes import ProbeScore, scores_of
from server.runs.switch import store_of
from server.world.tasks import TaskBoard
from server.world.world import World


def probe_series(scores: list[ProbeScore], probes: list[Any]) -> list[dict[str, Any]]:
    """Per probe: its question and metric, the mean score per tick, and each agent's scores."""
    declared = {p.name: p for p in probes}
    by_probe: dict[str, list[ProbeScore]] = defaultdict(list)
    for s in scores:
        by_probe[s.probe].append(s)
    out = []
    for name in sorted(by_probe):
        rows = by_probe[name]
        ticks: dict[int, list[float]] = defaultdict(list)
        agents: dict[str, list[list[float]]] = defaultdict(list)
        for s in rows:
            ticks[s.tick].append(s.score)
            agents[s.agent_id].append([s.tick, s.score])
        p = declared.get(name)
        out.append(
            {
                "name": name,
                "question": p.question if p is not None else "",
                "metric": p.metric.kind if p is not None else "",
                "mean": [[tk, round(sum(v) / len(v), 4)] for tk, v in sorted(ticks.items())],
                "agents": dict(sorted(agents.items())),
                "last": round(sum(ticks[max(ticks)]) / len(ticks[max(ticks)]), 4),
            }
        )
    return out


async def research_section(services: Services) -> dict[str, Any]:
    """The open run's `run` (name and lineage) and `probes` report sections."""
    runs = services.runs
    if runs is None:
        return {"run": None, "probes": []}
    chain = await runs.lineage(runs.current)
    return {
        "run": {
            "name": runs.current,
            "lineage": [{"name": r.name, "parent": r.parent, "fork_tick": r.fork_tick} for r in chain],
        },
        "probes": probe_series(await scores_of(services.world.repo), runs.probes),
    }


async def _report_of(services: Services, name: str) -> dict[str, Any]:
    """The report of run `name`, and its probe series."""
    runs = services.runs
    assert runs is not None
    if name == runs.current:
        rep = await build_report(services.world)
        rep["probes"] = probe_series(await scores_of(services.world.repo), runs.probes)
        return rep
    await runs.info(name)
    w = services.world
    repo = await Repository.open(runs.url(name), ROOT)
    try:
        scratch = World(
            w.town,
            repo,
            w.plugins,
            seed=w.seed,
            tick_seconds=w.clock.tick_seconds,
            max_agents=w.max_agents,
            sight=w.sight,
            move_tiles=w.move_tiles,
            llm_names=w.llm_names,
        )
        scratch.task_board = TaskBoard()
        await scratch.reload()  # the run as stored; nothing is founded or written
        rep = await build_report(scratch)
        rep["probes"] = probe_series(await scores_of(repo), [])
    finally:
        await repo.close()
    return rep


async def compare(services: Services, names: list[str]) -> dict[str, Any]:
    """Runs side by side: per run its lineage, tick, cash, tasks, diffusion, probes and model use."""
    runs = services.runs
    assert runs is not None
    out = []
    for name in names:
        info = await runs.info(name)
        rep = await _report_of(services, name)
        tasks = rep["tasks"]
        out.append(
            {
                "name": name,
                "parent": info.parent,
                "fork_tick": info.fork_tick,
                "tick": rep["tick"],
                "clock": rep["clock"],
                "agents": len(rep["agents"]),
                "cash_total": rep["ledger"]["agents_total"],
                "cash": {a["id"]: a["cash"] for a in rep["agents"]},
                "cash_series": rep["cash_total"],
                "tasks_done": sum(1 for t in tasks if t["status"] == "completed"),
                "tasks": len(tasks),
                "diffusion": {d["fact"]: len(d["knowers"]) for d in rep["diffusion"]},
                "probes": {p["name"]: p["last"] for p in rep["probes"]},
                "probe_series": {p["name"]: p["mean"] for p in rep["probes"]},
                "llm_calls": rep["llm"]["calls"],
                "tokens": rep["llm"]["tokens"],
                "cost_usd": rep["llm"]["cost_usd"],
                "chat_lines": rep["chats"]["lines"],
            }
        )
    return {"runs": out}


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def research_html(rep: dict[str, Any]) -> list[str]:
    """The report page's run and probe sections."""
    parts: list[str] = []
    run = rep.get("run")
    if run:
        steps = " ← ".join(
            f"{r['name']}" + (f" (forked at tick {r['fork_tick']})" if r["parent"] else "")
            for r in run["lineage"]
        )
        parts += ["<h2>Run</h2>", f"<p>Run <b>{escape(run['name'])}</b>. Lineage: {escape(steps)}.</p>"]
    probes = rep.get("probes") or []
    if probes:
        parts.append("<h2>Probes</h2>")
        parts.append(
            line_chart(
                {p["name"]: [[t, 100 * s] for t, s in p["mean"]] for p in probes},
                "Mean probe score",
                "% score",
                step=False,
            )
        )
        parts.append(
            _table(
                ["probe", "question", "metric", "last mean score"],
                [[p["name"], p["question"], p["metric"], p["last"]] for p in probes],
            )
        )
    return parts


def compare_html(cmp: dict[str, Any]) -> str:
    """The comparison page."""
    runs = cmp["runs"]
    names = [r["name"] for r in runs]
    probe_names = sorted({k for r in runs for k in r["probes"]})
    facts = sorted({k for r in runs for k in r["diffusion"]})
    rows: list[list[Any]] = [
        ["parent (fork tick)"] + [f"{r['parent']} ({r['fork_tick']})" if r["parent"] else "" for r in runs],
        ["tick"] + [f"{r['tick']} ({r['clock']})" for r in runs],
        ["agents"] + [r["agents"] for r in runs],
        ["agents' cash"] + [r["cash_total"] for r in runs],
        ["tasks done"] + [f"{r['tasks_done']} / {r['tasks']}" for r in runs],
        ["chat lines"] + [r["chat_lines"] for r in runs],
        ["LLM calls"] + [r["llm_calls"] for r in runs],
        ["tokens"] + [r["tokens"] for r in runs],
        ["cost (USD)"] + [f"{r['cost_usd']:.4f}" for r in runs],
    ]
    rows += [[f"knows: {f[:60]}"] + [r["diffusion"].get(f, "") for r in runs] for f in facts]
    rows += [[f"probe {p} (last mean)"] + [r["probes"].get(p, "") for r in runs] for p in probe_names]
    parts = [
        f"<h1>Runs compared: {escape(', '.join(names))}</h1>",
        _table(["", *names], rows),
        line_chart({r["name"]: r["cash_series"] for r in runs}, "Total cash of all agents", "coins"),
    ]
    for p in probe_names:
        parts.append(
            line_chart(
                {r["name"]: [[t, 100 * s] for t, s in r["probe_series"].get(p, [])] for r in runs},
                f"Probe {p}: mean score",
                "% score",
                step=False,
            )
        )
    style = (
        "body{font:14px system-ui,sans-serif;margin:24px;max-width:980px;color:#222}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
        "th{background:#f3f3f3}.ax{font-size:10px;fill:#555}.lg{font-size:11px;fill:#222}.empty{color:#888}"
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Runs compared</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )


async def default_pair(services: Services) -> list[str]:
    """The open run and its parent (or the open run alone when it has none)."""
    runs = store_of(services)
    info = await runs.info(runs.current)
    return [runs.current] + ([info.parent] if info.parent in await runs.names() else [])


class CompareHandler(tornado.web.RequestHandler):
    """GET /report/compare?runs=a,b (HTML) and /report/compare.json: runs side by side; by
    default the open run and its parent."""

    def initialize(self, services: Services) -> None:
        self.services = services

    async def get(self, as_json: str | None) -> None:
        try:
            wanted = [n for n in self.get_argument("runs", "").split(",") if n]
            cmp = await compare(self.services, wanted or await default_pair(self.services))
        except GameError as e:
            self.set_status(404 if e.code == "not_found" else 400)
            self.write({"error": {"code": e.code, "message": e.message}})
            return
        if as_json:
            self.write(cmp)
        else:
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.write(compare_html(cmp))
