"""The report as one self-contained HTML page: inline SVG plots drawn here, no script, no assets."""

from __future__ import annotations

import math
from html import escape
from typing import Any

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 720, 260, 56, 170, 16, 34


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _nice(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2f}"


def line_chart(
    series: dict[str, list[list[float]]],
    title: str,
    y_label: str = "",
    *,
    step: bool = True,
    x_max: float | None = None,
) -> str:
    """Lines (step lines by default) over ticks, with axes and a legend."""
    pts = [p for s in series.values() for p in s]
    if not pts:
        return f"<h3>{escape(title)}</h3><p class=empty>no data</p>"
    x0, x1 = min(p[0] for p in pts), max(max(p[0] for p in pts), x_max or 0)
    y0, y1 = min(0.0, min(p[1] for p in pts)), max(p[1] for p in pts)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def sx(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return PAD_T + ph - (y - y0) / (y1 - y0) * ph

    out = [
        f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{escape(title)}">',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        xv = x0 + (x1 - x0) * i / 4
        out.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{sy(yv):.1f}" y2="{sy(yv):.1f}" stroke="#eee"/>'
        )
        out.append(
            f'<text x="{PAD_L - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end" class=ax>{_nice(yv)}</text>'
        )
        out.append(
            f'<text x="{sx(xv):.1f}" y="{H - PAD_B + 16}" text-anchor="middle" class=ax>{xv:.0f}</text>'
        )
    out.append(f'<text x="{PAD_L + pw / 2}" y="{H - 4}" text-anchor="middle" class=ax>tick</text>')
    if y_label:
        out.append(
            f'<text x="12" y="{PAD_T + ph / 2}" transform="rotate(-90 12 {PAD_T + ph / 2})" '
            f'text-anchor="middle" class=ax>{escape(y_label)}</text>'
        )
    for i, (name, s) in enumerate(series.items()):
        if not s:
            continue
        coords: list[str] = []
        prev: list[float] | None = None
        for p in s:
            if step and prev is not None:
                coords.append(f"{sx(p[0]):.1f},{sy(prev[1]):.1f}")
            coords.append(f"{sx(p[0]):.1f},{sy(p[1]):.1f}")
            prev = p
        if x_max is not None and prev is not None and prev[0] < x_max:
            coords.append(f"{sx(x_max):.1f},{sy(prev[1]):.1f}")
        out.append(
            f'<polyline fill="none" stroke="{_color(i)}" stroke-width="1.6" points="{" ".join(coords)}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        ly = PAD_T + 14 * i + 8
        out.append(
            f'<rect x="{W - PAD_R + 10}" y="{ly - 8}" width="10" height="10" fill="{_color(i)}"/>'
            f'<text x="{W - PAD_R + 24}" y="{ly + 1}" class=lg>{escape(name[:26])}</text>'
        )
    out.append("</svg>")
    return f"<h3>{escape(title)}</h3>" + "".join(out)


def chat_graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> str:
    """Who talked with whom: agents on a circle, a line per pair, thicker for more chat lines."""
    if not nodes:
        return "<h3>Who talked with whom</h3><p class=empty>no agents</p>"
    size, r, margin = 420, 150, 110  # the margin leaves room for names left and right
    c, cy0 = size / 2 + margin, size / 2
    pos = {}
    for i, n in enumerate(nodes):
        ang = 2 * math.pi * i / len(nodes) - math.pi / 2
        pos[n["id"]] = (c + r * math.cos(ang), cy0 + r * math.sin(ang))
    top = max((e["count"] for e in edges), default=1)
    out = [
        f'<svg viewBox="0 0 {size + 2 * margin} {size}" width="{size + 2 * margin}" height="{size}" role="img" '
        'aria-label="chat graph">'
    ]
    for e in edges:
        if e["a"] in pos and e["b"] in pos:
            (ax, ay), (bx, by) = pos[e["a"]], pos[e["b"]]
            w = 1 + 6 * e["count"] / top
            out.append(
                f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" stroke="#4a7" '
                f'stroke-opacity="0.6" stroke-width="{w:.1f}"><title>{escape(e["a"])} - {escape(e["b"])}: '
                f"{e['count']} lines</title></line>"
            )
    for i, n in enumerate(nodes):
        x, y = pos[n["id"]]
        tx = c + (r + 22) * (x - c) / r
        ty = cy0 + (r + 22) * (y - cy0) / r
        anchor = "start" if tx > c + 5 else "end" if tx < c - 5 else "middle"
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="{_color(i)}"/>'
            f'<text x="{tx:.1f}" y="{ty + 4:.1f}" text-anchor="{anchor}" class=lg>{escape(n["name"])}</text>'
        )
    out.append("</svg>")
    return "<h3>Who talked with whom</h3>" + "".join(out)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p class=empty>none</p>"
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _usd(x: float) -> str:
    """A cost in US dollars; "unpriced" when no profile sets prices."""
    return f"${x:,.4f}" if x else "unpriced"


def render(rep: dict[str, Any]) -> str:
    """The report page."""
    names = {a["id"]: a["name"] for a in rep["agents"]}
    led, llm = rep["ledger"], rep["llm"]
    tick = rep["tick"]
    parts = [
        f"<h1>Run report: {escape(rep['town'])}</h1>",
        f"<p>Tick {tick} ({escape(rep['clock'])}), seed {rep['seed']}, {len(rep['agents'])} agents. "
        f"LLM: {llm['calls']} calls, {llm['tokens']} tokens, {_usd(llm['cost_usd'])}, {llm['failed']} failed. "
        f"Ledger: {led['entries']} "
        f"entries, sum of all balances {led['total']} ({'zero-sum' if led['zero_sum'] else 'NOT ZERO'}), "
        f"agents hold {led['agents_total']}.</p>",
        "<h2>Tasks</h2>",
        _table(
            ["id", "task", "status", "progress", "reward", "posted", "completed", "credited", "payments"],
            [
                [
                    t["id"],
                    t["title"],
                    t["status"],
                    t["progress"],
                    t["reward"],
                    t["posted_tick"],
                    t["completed_tick"] if t["completed_tick"] is not None else "",
                    ", ".join(names.get(a, a) for a in t["credited"]),
                    "; ".join(f"{p['amount']} {p['src']} -> {p['dst']}" for p in t["payments"]),
                ]
                for t in rep["tasks"]
            ],
        ),
        line_chart(
            {
                f"{t['id']} {t['title']}": [
                    [p[0], 100 * min(p[1], t["target"]) / max(1, t["target"])] for p in t["history"]
                ]
                for t in rep["tasks"]
            },
            "Task progress",
            "% done",
            x_max=tick,
        ),
        "<h2>Cash</h2>",
        line_chart(
            {names.get(a, a): pts for a, pts in rep["cash"].items()}, "Cash per agent", "coins", x_max=tick
        ),
        line_chart({"all agents": rep["cash_total"]}, "Total cash of all agents", "coins", x_max=tick),
        "<h2>Jobs and companies</h2>",
        _table(
            ["agent", "workplace", "title", "wage", "since tick"],
            [
                [names.get(a, a), j["building_id"], j["title"], j["wage"], j["since_tick"]]
                for a, j in rep["jobs"].items()
            ],
        ),
        _table(
            ["founder", "building", "tick"],
            [[names.get(c["founder"], c["founder"]), c["building"], c["tick"]] for c in rep["companies"]],
        ),
        "<h2>Language model</h2>",
        line_chart(
            {"calls": [[r["tick"], r["llm_calls"]] for r in llm["per_tick"]]},
            "LLM calls per tick",
            "calls",
            step=False,
        ),
        line_chart(
            {"tokens": [[r["tick"], r["tokens"]] for r in llm["per_tick"]]},
            "Tokens per tick",
            "tokens",
            step=False,
        ),
        _table(
            ["prompt kind", "calls", "tokens", "cost"],
            [[k, v["calls"], v["tokens"], _usd(v["cost_usd"])] for k, v in llm["by_kind"].items()],
        ),
        _table(
            ["agent", "calls", "tokens", "cost"],
            [
                [names.get(a, a) or "(no agent)", v["calls"], v["tokens"], _usd(v["cost_usd"])]
                for a, v in llm["by_agent"].items()
            ],
        ),
        "<h2>Conversations</h2>",
        f"<p>{rep['chats'].get('conversations', 0)} conversations, {rep['chats']['lines']} chat lines.</p>",
        chat_graph(rep["chats"]["nodes"], rep["chats"]["edges"]),
        "<h2>Information diffusion</h2>",
        line_chart(
            {d["fact"][:60]: d["series"] for d in rep["diffusion"]},
            "Agents who know each seeded fact",
            "agents",
            x_max=tick,
        ),
        _table(
            ["fact", "seeded by", "agents who know it (first tick)"],
            [
                [
                    d["fact"],
                    names.get(d["seeded_by"], d["seeded_by"] or ""),
                    ", ".join(f"{names.get(a, a)} ({t})" for a, t in d["knowers"].items()),
                ]
                for d in rep["diffusion"]
            ],
        ),
    ]
    style = (
        "body{font:14px system-ui,sans-serif;margin:24px;max-width:980px;color:#222}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
        "th{background:#f3f3f3}.ax{font-size:10px;fill:#555}.lg{font-size:11px;fill:#222}.empty{color:#888}"
        "svg{display:block;margin:4px 0 12px}"
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Run report: {escape(rep['town'])}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )
