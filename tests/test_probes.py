"""Probes: scored questions every k ticks through the interview path; scores in the report; a run
with probes ticks exactly as its twin without; runs compared side by side."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tornado.httpclient

from server.app import run_town
from server.client import CommandError, TownClient
from server.runs.probes import Choice, Keywords, NumberRange, score
from tests.conftest import ADMIN, make_settings
from tests.db_rows import table_rows

# columns that differ between two runs of the same ticks: wall-clock times, the meta table
# (lineage, probes), the ids of llm_calls rows (concurrent calls finish in any order), and the
# probes' own scores
NOT_THE_RUN = ("ticks.summary", "llm_calls.latency_ms", "llm_calls.id", "llm_calls.prefix_tokens", "meta.value", "meta.key", *(
    f"probe_scores.{c}" for c in ("id", "tick", "probe", "agent_id", "answer", "score", "value", "calls", "tokens", "cost_usd")
))  # fmt: skip


def test_rule_metrics() -> None:
    kw = Keywords(kind="keywords", keywords=["dessert shop", "bread", "mayor"])
    assert score(kw, "I went to the Dessert Shop for bread.") == (2 / 3, "dessert shop, bread")
    ch = Choice(kind="choice", choices=["Alice", "Bob", "Carmen"], expected="Bob")
    assert score(ch, "Bob, then Alice.") == (1.0, "Bob")
    assert score(ch, "Alice, then Bob.") == (0.0, "Alice")
    assert score(ch, "nobody") == (0.0, None)
    assert score(Choice(kind="choice", choices=["yes", "no"]), "No idea") == (1.0, "no")
    num = NumberRange(kind="number", min=10, max=20)
    assert score(num, "I have 12.5 coins and 3 friends") == (1.0, "12.5")
    assert score(num, "about -4") == (0.0, "-4")
    assert score(num, "no idea") == (0.0, None)


PROBES: list[dict[str, Any]] = [
    {
        "name": "who",
        "question": "Who are you?",
        "every": 2,
        "agents": ["alice-chen", "bob-martin"],
        "metric": {"kind": "choice", "choices": ["Alice Chen", "Bob Martin"], "expected": "Alice Chen"},
    },
    {
        "name": "name-words",
        "question": "What is your name?",
        "every": 3,
        "agents": ["alice-chen"],
        "metric": {"kind": "keywords", "keywords": ["Alice", "zeppelin"]},
    },
    {
        "name": "judged",
        "question": "Introduce yourself.",
        "every": 2,
        "agents": ["alice-chen"],
        "metric": {"kind": "judge", "rubric": "Alice Chen", "profile": "scripted"},
    },
]


async def test_probes_score_over_time_and_leave_the_run_alone(db_url: str) -> None:
    async with run_town(make_settings(db_url, runs={"checkpoint_every": 0})) as r:
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        store = r.services.runs
        assert store is not None
        with pytest.raises(CommandError) as e:
            await admin.call("set_probes", probes=[{**PROBES[0], "agents": ["nobody"]}])
        assert e.value.code == "invalid_request"
        with pytest.raises(CommandError) as e:
            await admin.call("set_probes", probes=[{**PROBES[0], "metric": {"kind": "vibes"}}])
        assert e.value.code == "invalid_request"
        assert [p["name"] for p in (await admin.call("set_probes", probes=PROBES))["probes"]] == [
            "who",
            "name-words",
            "judged",
        ]
        await admin.call("fork_run", name="twin")  # the same town, with the same probes
        for _ in range(6):
            await admin.call("tick")
        got = (await admin.call("probe_scores"))["scores"]
        who = [(s["tick"], s["agent_id"], s["score"], s["value"]) for s in got if s["probe"] == "who"]
        assert who == [
            (t, a, 1.0 if a == "alice-chen" else 0.0, "Alice Chen" if a == "alice-chen" else "Bob Martin")
            for t in (2, 4, 6)
            for a in ("alice-chen", "bob-martin")
        ]
        assert [(s["tick"], s["score"]) for s in got if s["probe"] == "name-words"] == [(3, 0.5), (6, 0.5)]
        assert [(s["tick"], s["score"]) for s in got if s["probe"] == "judged"] == [
            (2, 1.0),
            (4, 1.0),
            (6, 1.0),
        ]

        stored = await r.services.world.repo.rows("probe_scores")
        assert {(x["probe"], x["calls"]) for x in stored} == {("who", 1), ("name-words", 1), ("judged", 2)}
        assert all(x["tokens"] > 0 for x in stored)
        rep = (await admin.call("get_report"))["report"]
        series = {p["name"]: p for p in rep["probes"]}
        assert series["who"]["mean"] == [[2, 0.5], [4, 0.5], [6, 0.5]] and series["who"]["metric"] == "choice"
        assert series["who"]["agents"]["alice-chen"] == [[2, 1.0], [4, 1.0], [6, 1.0]]
        assert rep["run"] == {
            "name": "main",
            "lineage": [{"name": "main", "parent": None, "fork_tick": None}],
        }
        http = tornado.httpclient.AsyncHTTPClient()
        html = (await http.fetch(f"{r.url}/report")).body.decode()
        assert "<h2>Probes</h2>" in html and "Mean probe score" in html

        # the twin ticks without asking anything: every table but the probes' equals main's
        await admin.call("open_run", name="twin")
        await admin.call("set_probes", probes=[])
        for _ in range(6):
            await admin.call("tick")
        assert (await admin.call("probe_scores"))["scores"] == []
        assert table_rows(store.url("twin"), NOT_THE_RUN) == table_rows(store.url("main"), NOT_THE_RUN)

        # side by side: the fork and its parent (the default pair)
        cmp = (await admin.call("compare_runs"))["runs"]
        assert [c["name"] for c in cmp] == ["twin", "main"]
        assert cmp[0]["parent"] == "main" and cmp[0]["fork_tick"] == 0
        assert cmp[0]["tick"] == cmp[1]["tick"] == 6 and cmp[0]["cash"] == cmp[1]["cash"]
        assert cmp[0]["llm_calls"] == cmp[1]["llm_calls"] > 0
        assert cmp[0]["probes"] == {} and cmp[1]["probes"] == {"who": 0.5, "name-words": 0.5, "judged": 1.0}
        page = (await http.fetch(f"{r.url}/report/compare?runs=main,twin")).body.decode()
        assert "Runs compared: main, twin" in page and "probe who (last mean)" in page
        data = json.loads((await http.fetch(f"{r.url}/report/compare.json?runs=main")).body)
        assert [x["name"] for x in data["runs"]] == ["main"]
        rep = (await admin.call("get_report"))["report"]
        assert rep["run"]["lineage"] == [
            {"name": "twin", "parent": "main", "fork_tick": 0},
            {"name": "main", "parent": None, "fork_tick": None},
        ]
        admin.close()
