"""The run report: JSON over the websocket and HTTP, and the HTML page with inline SVG plots."""

from __future__ import annotations

import json

import tornado.httpclient

from server.app import Running, run_town
from server.client import TownClient
from server.report.html import chat_graph, line_chart, render
from tests.conftest import ADMIN, make_settings

TICKS = 480  # 08:00 to 09:20


async def test_report_after_a_free_run(db_url: str) -> None:
    """On SQLite and MySQL (the report's sums are computed in the database)."""
    async with run_town(make_settings(db_url)) as town, await TownClient.connect(town.ws_url) as admin:
        await admin.call("login", token=ADMIN)
        await admin.call("tick", count=TICKS)  # a morning: breakfast, work, the first conversations
        await check_report(town, admin)


async def check_report(town: Running, admin: TownClient) -> None:
    rep = (await admin.call("get_report"))["report"]
    w = town.services.world
    assert rep["tick"] == TICKS and rep["ledger"]["zero_sum"] and rep["ledger"]["total"] == 0
    assert set(rep["cash"]) == set(w.agents)
    for aid, pts in rep["cash"].items():
        assert pts[0][0] == 0 and pts[-1][1] == w.agents[aid].cash
    assert rep["cash_total"][-1][1] == sum(a.cash for a in w.agents.values()) == rep["ledger"]["agents_total"]
    assert len(rep["llm"]["per_tick"]) == TICKS
    assert rep["llm"]["calls"] == sum(r["llm_calls"] for r in rep["llm"]["per_tick"]) > 0
    assert rep["llm"]["tokens"] == sum(v["tokens"] for v in rep["llm"]["by_kind"].values())
    chats = await w.repo.rows("events", where={"kind": "chat"})
    assert rep["chats"]["lines"] == len(chats) == sum(e["count"] for e in rep["chats"]["edges"])
    # the talk graph counts conversations as well as lines
    talks = {e["conversation_id"] for e in chats}
    assert (
        rep["chats"]["conversations"]
        == len(talks)
        == sum(e["conversations"] for e in rep["chats"]["edges"])
        > 0
    )
    (fact,) = rep["diffusion"]
    assert fact["seeded_by"] == "carmen-diaz" and fact["knowers"]["carmen-diaz"] == 0
    assert fact["series"][0] == [0, 1] and fact["series"][-1] == [TICKS, len(fact["knowers"])]
    http = tornado.httpclient.AsyncHTTPClient()
    js = await http.fetch(town.url + "/report.json")
    assert js.headers["Content-Type"].startswith("application/json")
    assert json.loads(js.body)["ledger"] == rep["ledger"]
    page = await http.fetch(town.url + "/report")
    html = page.body.decode()
    assert page.headers["Content-Type"].startswith("text/html")
    assert html.count("<svg") >= 6 and "<script" not in html and "http" not in html.split("<body>")[1]
    assert "Who talked with whom" in html and "Carmen Diaz" in html


def test_html_escapes_names_and_handles_empty_data() -> None:
    rep = {
        "town": "<T>",
        "tick": 0,
        "clock": "Day 1 08:00",
        "seed": 1,
        "agents": [{"id": "x", "name": "<b>X & Y</b>", "cash": 0, "job": None}],
        "ledger": {
            "entries": 0,
            "total": 0,
            "zero_sum": True,
            "agents_total": 0,
            "accounts": {},
            "rewards": [],
        },
        "cash": {},
        "cash_total": [],
        "tasks": [],
        "jobs": {},
        "companies": [],
        "llm": {
            "calls": 0,
            "tokens": 0,
            "cost_usd": 0.0,
            "failed": 0,
            "by_kind": {},
            "by_agent": {},
            "per_tick": [],
        },
        "chats": {
            "lines": 0,
            "conversations": 0,
            "nodes": [{"id": "x", "name": "<b>X & Y</b>"}],
            "edges": [],
        },
        "diffusion": [],
    }
    html = render(rep)
    assert "<b>X" not in html and "&lt;b&gt;X &amp; Y&lt;/b&gt;" in html and "&lt;T&gt;" in html
    assert "no data" in html


def test_svg_plots_scale_into_the_frame() -> None:
    svg = line_chart({"a": [[0, 5], [10, 50]], "b": [[5, -5]]}, "t", x_max=20)
    pts = [
        tuple(map(float, p.split(","))) for s in svg.split('points="')[1:] for p in s.split('"')[0].split()
    ]
    assert pts and all(56 <= x <= 720 - 170 + 0.1 and 16 <= y <= 260 - 34 + 0.1 for x, y in pts)
    g = chat_graph(
        [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}, {"id": "c", "name": "C"}],
        [{"a": "a", "b": "b", "count": 3}, {"a": "b", "b": "c", "count": 1}],
    )
    assert g.count("<circle") == 3 and g.count("<line") == 2


async def test_kept_report_equals_a_report_read_from_scratch(db_url: str) -> None:
    """Issue 13 item 8: the report the server keeps up to date (reading only the rows committed
    since it last looked) is the report read from the whole history, after more ticks, chats, a
    deleted agent and a reset; asked again with no commit between, it is not built again."""
    from server.report.build import build_report

    async with run_town(make_settings(db_url)) as town, await TownClient.connect(town.ws_url) as admin:
        await admin.call("login", token=ADMIN)
        w, reports = town.services.world, town.services.reports
        await admin.call("tick", count=15)
        first = await reports.report()
        assert first == await build_report(w)
        assert await reports.report() is first  # nothing committed since: the same report
        await admin.call("chat_with_npc", agent_id="carmen-diaz", text="Have you heard the news?")
        await admin.call("delete_agent", agent_id="bob-martin")
        await admin.call("tick", count=25)
        kept = await reports.report()
        assert kept is not first and kept["tick"] == 40
        assert kept == await build_report(w)
        tag, text = await reports.encoded("json")
        assert json.loads(text) == json.loads(json.dumps(kept))
        http = tornado.httpclient.AsyncHTTPClient()
        got = await http.fetch(town.url + "/report.json")
        # the page is the kept report plus the open run's lineage and probes (server/runs/research.py)
        page = json.loads(got.body)
        assert page.pop("run")["name"] == "main" and page.pop("probes") == []
        etag = got.headers["Etag"]
        assert etag.startswith(f'"{tag}-') and page == json.loads(text)
        again = await http.fetch(
            town.url + "/report.json", headers={"If-None-Match": etag}, raise_error=False
        )
        assert again.code == 304
        await admin.call("reset", confirm=True)
        await admin.call("tick", count=2)
        assert await reports.report() == await build_report(w)


async def test_favicon_ico_is_served_for_pages_without_an_icon_link(town: Running) -> None:
    """/report has no icon link (it is also saved as a file), so browsers ask for /favicon.ico."""
    http = tornado.httpclient.AsyncHTTPClient()
    icon = await http.fetch(town.url + "/favicon.ico")  # follows the redirect
    assert icon.code == 200 and icon.effective_url.endswith("/favicon.svg")
    assert icon.headers["Content-Type"].startswith("image/svg+xml")
    assert icon.body.lstrip().startswith(b"<svg")
