"""One game day of the default town (its 6 preset agents, `config/agents.json`): 8,640 ticks of
10 game seconds from 08:00, sent over the websocket to the real server, first on the offline
scripted model, then through the fake OpenAI-compatible server (`bench._fake`, the real SDK over
HTTP, `--latency` per call). Every figure is computed from the rows the server stored (llm_calls,
events, conversations, ticks), read back from its SQLite file after the day.

An agent-step is one agent's tick in the town: agents x ticks (6 x 8,640 = 51,840 a day), whether
the agent thought, walked or went on with an action.

Figures, per model: tokens per agent-step (prompt + completion), LLM calls per agent per game
hour, the share of the day's events between 00:00 and 05:00, conversations (count, mean lines,
the share of the most repeated chat line), distinct places each agent spent a tick in (median;
from the positions the ticks pushed), the cacheable prefix share of prompt tokens (the stored
`prefix_tokens` over prompt tokens), the day's wall time, and its LLM-call floor (the sum over
ticks of the longest chain of dependent calls one agent made in the tick, times the latency).
Targets (issue 15): tokens per agent-step <= 36 (stretch 15), calls per agent-hour <= 20, night
share <= 0.03, mean conversation lines >= 4, most repeated line <= 0.02, median places >= 3.
`--quick` runs one game hour (360 ticks) instead.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import ADMIN, ROOT, emit, fake_llm, main_async, now, scratch

DAY_TICKS = 8640
QUICK_TICKS = 360
LATENCY_S = 0.01
BATCH = 360  # ticks per `tick` command


def _settings(tmp: Path, llm: dict[str, Any] | None) -> Any:
    from config.settings import Settings

    kw: dict[str, Any] = {
        "db": f"sqlite:///{tmp / 'town.sqlite3'}",
        "port": 0,
        "admin_token": ADMIN,
        "log_level": "WARNING",
        "agents": str(ROOT / "config" / "agents.json"),
        "limits": {"commands_per_second": 10_000, "command_burst": 10_000},
    }
    if llm is not None:
        kw["llm"] = llm
    return Settings(**kw)


async def _run_day(tmp: Path, ticks: int, llm: dict[str, Any] | None) -> dict[str, Any]:
    from server.app import run_town
    from server.client import TownClient

    places: dict[str, set[str]] = {}
    t0 = now()
    async with run_town(_settings(tmp, llm)) as town:
        w = town.services.world
        admin = await TownClient.connect(town.ws_url)
        await admin.call("login", token=ADMIN)
        done = 0
        while done < ticks:
            n = min(BATCH, ticks - done)
            for _ in range(n):
                await admin.call("tick")
                for a in w.agents.values():
                    b = w.building_at(a.x, a.y)
                    if b is not None:
                        places.setdefault(a.id, set()).add(b.id)
            done += n
        admin.close()
        agents = len(w.agents)
    wall = now() - t0
    return {"wall_s": wall, "agents": agents, "places": places, "db": tmp / "town.sqlite3"}


def figures(db: Path, agents: int, ticks: int, tick_seconds: int = 10) -> dict[str, Any]:
    """The day's figures from the stored rows of a town's SQLite file."""
    con = sqlite3.connect(db)
    try:
        calls = con.execute(
            "SELECT count(*), coalesce(sum(prompt_tokens),0), coalesce(sum(completion_tokens),0),"
            " coalesce(sum(prefix_tokens),0) FROM llm_calls"
        ).fetchone()
        n_calls, prompt, completion, prefix = (int(x) for x in calls)
        start = int(json.loads(con.execute("SELECT value FROM meta WHERE key='tick'").fetchone()[0])) - ticks
        events = con.execute("SELECT e.tick, e.kind, e.text, e.conversation_id FROM events e").fetchall()
        game = {
            r[0]: r[1] for r in con.execute("SELECT tick, game_seconds FROM ticks WHERE tick > ?", (start,))
        }
        talks = con.execute("SELECT id, data FROM conversations").fetchall()
        chains = [
            max(
                Counter(
                    a for (a,) in con.execute("SELECT agent_id FROM llm_calls WHERE tick = ?", (t,))
                ).values()
            )
            for (t,) in con.execute("SELECT DISTINCT tick FROM llm_calls")
        ]
    finally:
        con.close()
    night = sum(1 for t, *_ in events if t in game and (game[t] % 86400) < 5 * 3600)
    day_events = sum(1 for t, *_ in events if t in game)
    lines = [text for _, kind, text, conv in events if kind == "chat" and conv]
    turns = [len(json.loads(d).get("turns", [])) for _, d in talks]
    top = Counter(lines).most_common(1)
    hours = ticks * tick_seconds / 3600
    return {
        "agent_steps": agents * ticks,
        "llm_calls": n_calls,
        "tokens": prompt + completion,
        "tokens_per_agent_step": round((prompt + completion) / max(1, agents * ticks), 2),
        "calls_per_agent_hour": round(n_calls / max(1, agents) / hours, 2),
        "night_event_share": round(night / max(1, day_events), 4),
        "events": day_events,
        "conversations": len(talks),
        "mean_turns": round(statistics.mean(turns), 2) if turns else 0.0,
        "chat_lines": len(lines),
        "distinct_lines": len(set(lines)),
        "top_line_share": round(top[0][1] / len(lines), 4) if top else 0.0,
        "prefix_share": round(prefix / max(1, prompt), 3),
        "chain_calls": sum(chains),
    }


async def _day(quick: bool, latency: float) -> None:
    ticks = QUICK_TICKS if quick else DAY_TICKS
    out: dict[str, Any] = {}
    for label in ("offline", "fake_server"):
        with scratch() as tmp:
            if label == "offline":
                ran = await _run_day(tmp, ticks, None)
            else:
                with fake_llm(latency) as fake:
                    llm = {"provider": "openai", "base_url": fake.url, "api_key": "x", "model": "fake"}
                    ran = await _run_day(tmp, ticks, llm)
            f = figures(ran["db"], ran["agents"], ticks)
            counts = sorted(len(v) for v in ran["places"].values())
            f["median_places"] = statistics.median(counts) if counts else 0
            f["wall_s"] = round(ran["wall_s"], 1)
            chain = f.pop("chain_calls")  # the offline model answers at once: no floor
            f["llm_floor_s"] = round(chain * latency, 1) if label != "offline" else 0.0
            out[label] = f
    off = out["offline"]
    met = off["tokens_per_agent_step"] <= 36 and off["calls_per_agent_hour"] <= 20
    if not quick:  # one morning hour is too short for the day's shape
        met = met and (
            off["night_event_share"] <= 0.03
            and off["mean_turns"] >= 4
            and off["top_line_share"] <= 0.02
            and off["median_places"] >= 3
        )
    emit(
        "day",
        {"agents": "config/agents.json", "ticks": ticks, "tick_seconds": 10, "fake_latency_s": latency},
        out,
        "offline: tokens/agent-step <= 36 (stretch 15), calls/agent/hour <= 20, night share <= 0.03,"
        " mean conversation lines >= 4, top line share <= 0.02, median places >= 3",
        met,
        notes="agent-step = one agent's tick in the town (agents x ticks); figures from the stored rows",
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(lambda quick: _day(quick, LATENCY_S), argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
