"""The run report (`GET /report.json`) at a small, a mid and a big history, and what polling it costs
the ticking (issue 13 item 8).

One town of N agents (scripted model, SQLite). Small: a few real ticks. Big: the same town with a
long history written into its database (a tick row per tick, a ledger transfer for every agent
every tick, memories, LLM calls and chat events: 2,100 ticks and 81k memories for 106 agents, as
in the issue), then restarted; mid: half of that history. In each, the report is fetched once
(the server reads the history it has not seen), then `rounds` times after one more tick each:
the figure is the median of those. Then, on the big town, the admin's tick round trip while four
client processes fetch `/report.json` in a loop, and without them, alternating tick by tick; and
the same with the four fetching `/healthz` (the HTTP load alone: on a small machine four polling
processes take CPU from the server whatever they fetch).

Targets: the report after a tick at the big history costs at most 1.5 times (plus 10 ms) what it
costs at the mid one: its cost does not grow with history (each plotted series is thinned to 600
points, so past 600 ticks the report keeps its size; the small town's few ticks are shown for
scale); and four clients polling the report slow the tick round trip at most 1.5 times as much as
four polling `/healthz` do (each against the quiet ticks it alternates with). The slowdown by
polling itself is printed too: on a 2-core machine four processes fetching anything in a loop,
and the server answering them on its one event loop, take a share of the CPU the tick needs; what
the report must not add is work of its own that grows with history or holds the town up.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import ADMIN, emit, main_async, median_ms, now, scratch, settings

POLLER = """
import sys, urllib.request
url, n = sys.argv[1], 0
try:
    while True:
        urllib.request.urlopen(url, timeout=60).read()
        n += 1
except KeyboardInterrupt:
    pass
finally:
    print(n, flush=True)
"""

WORDS = "bread market river garden school music coffee paint harbor festival library clock".split()


def _history(db: Path, ticks: int, memories: int, agents: list[str]) -> None:
    """Write a long synthetic history into the town's database (the town is stopped)."""
    rng = random.Random(7)
    c = sqlite3.connect(db)
    start = c.execute("SELECT COALESCE(MAX(tick), 0) FROM ticks").fetchone()[0] + 1
    summary = {"stepped": 5, "llm_calls": 8, "tokens": 900, "cost_usd": 0.0, "failures": 0, "wall_ms": 120}
    c.executemany(
        "INSERT INTO ticks (tick, game_seconds, summary) VALUES (?, ?, ?)",
        [(t, t * 10, json.dumps({"tick": t, **summary})) for t in range(start, start + ticks)],
    )
    ledger = []
    for t in range(start, start + ticks):
        order = rng.sample(agents, len(agents))
        for a, b in zip(order[::2], order[1::2], strict=False):  # every agent trades every tick,
            amount = rng.randint(1, 5)  # and gets its coins back: every balance stays as it is
            ledger += [
                (t, f"agent:{a}", f"agent:{b}", amount, "trade"),
                (t, f"agent:{b}", f"agent:{a}", amount, "trade"),
            ]
    c.executemany("INSERT INTO ledger (tick, src, dst, amount, reason) VALUES (?, ?, ?, ?, ?)", ledger)
    c.executemany(
        "INSERT INTO memories (agent_id, kind, text, tick, importance, subject) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                rng.choice(agents),
                "observation",
                " ".join(rng.choices(WORDS, k=12)),
                start + i * ticks // memories,
                3.0,
                None,
            )
            for i in range(memories)
        ],
    )
    c.executemany(
        "INSERT INTO llm_calls (tick, agent_id, kind, model, prompt_tokens, completion_tokens, latency_ms, ok, cached, cost_usd)"
        " VALUES (?, ?, ?, 'scripted', 800, 100, 1.0, 1, 0, 0)",
        [
            (t, rng.choice(agents), rng.choice(["plan", "act", "chat"]))
            for t in range(start, start + ticks)
            for _ in range(8)
        ],
    )
    c.executemany(
        "INSERT INTO events (tick, kind, agent_id, other_id, text) VALUES (?, 'chat', ?, ?, 'hello')",
        [(t, *rng.sample(agents, 2)) for t in range(start, start + ticks) for _ in range(4)],
    )
    last = start + ticks - 1
    c.execute("UPDATE meta SET value = ? WHERE key = 'tick'", (json.dumps(last),))
    c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a long-running server's checkpoints left it
    c.close()


async def _report_times(url: str, admin: Any, rounds: int) -> tuple[float, list[float]]:
    """The first report's time, and the report's time after each of `rounds` ticks."""
    import tornado.httpclient

    http = tornado.httpclient.AsyncHTTPClient()
    t0 = now()
    await http.fetch(url)
    first = now() - t0
    times = []
    for _ in range(rounds):
        await admin.call("tick")
        t0 = now()
        await http.fetch(url)
        times.append(now() - t0)
    return first, times


async def _tick_times(admin: Any, ticks: int) -> list[float]:
    out = []
    for _ in range(ticks):
        t0 = now()
        await admin.call("tick")
        out.append(now() - t0)
    return out


async def _polled(
    admin: Any, ticks: int, poll_url: str, report_url: str, pause: float
) -> tuple[list[float], list[float], int]:
    """Tick round trips with four client processes fetching `poll_url` in a loop, and without:
    the two alternate, tick by tick (the pollers are stopped with SIGSTOP and resumed with
    SIGCONT, `pause` seconds given to each change), so a change in the machine's load falls on
    both alike. Also how many fetches the pollers made."""
    pollers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", POLLER, poll_url, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(4)
    ]
    quiet: list[float] = []
    polled: list[float] = []
    try:
        await asyncio.sleep(5 * pause)  # the pollers are under way
        for _ in range(ticks):
            polled += await _tick_times(admin, 1)
            for p in pollers:
                p.send_signal(signal.SIGSTOP)
            await asyncio.sleep(pause)  # requests in flight are answered
            quiet += await _tick_times(admin, 1)
            for p in pollers:
                p.send_signal(signal.SIGCONT)
            await asyncio.sleep(pause)  # the pollers are back at it
    finally:
        fetched = 0
        for p in pollers:
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGINT)
            try:
                printed, _ = await asyncio.wait_for(p.communicate(), 20)
            except TimeoutError:  # seen once: a poller that never ended; its count is lost
                p.kill()
                await p.wait()
                continue
            fetched += int(printed.decode().strip() or 0)
        await _report_times(report_url, admin, 0)  # after the pollers' last requests, served in turn
    return quiet, polled, fetched


async def _phase(
    tmp: Path, n: int, rounds: int, history: tuple[int, int] | None, ticks: int
) -> dict[str, Any]:
    from server.app import run_town, tune_gc
    from server.client import TownClient

    s = settings(tmp, n)
    if history is not None:
        async with run_town(s) as town:
            agents = sorted(town.services.world.agents)
        _history(tmp / "town.sqlite3", history[0], history[1], agents)
    async with run_town(s) as town:
        tune_gc()  # as `python -m server` does once the town is loaded
        admin = await TownClient.connect(town.ws_url)
        await admin.call("login", token=ADMIN)
        await admin.call("tick")
        url = town.url + "/report.json"
        first, times = await _report_times(url, admin, rounds)
        out: dict[str, Any] = {
            "tick": town.services.world.clock.tick,
            "first_report_ms": round(first * 1000, 1),
            "report_after_tick_ms": median_ms(times),
        }
        if ticks:
            pause = 0.1 if ticks > 5 else 0.03  # --quick: a smoke run
            quiet, busy, fetched = await _polled(admin, ticks, url, url, pause)
            hq, hbusy, hfetched = await _polled(admin, ticks, town.url + "/healthz", url, pause)
            out.update(
                tick_ms_quiet=median_ms(quiet),
                tick_ms_polling_report=median_ms(busy),
                reports_fetched=fetched,
                tick_ms_quiet_2=median_ms(hq),
                tick_ms_polling_healthz=median_ms(hbusy),
                healthz_fetched=hfetched,
            )
        admin.close()
    return out


async def run(quick: bool) -> None:
    n, rounds, ticks = (10, 3, 2) if quick else (106, 15, 30)
    big_history = (200, 2_000) if quick else (2_100, 81_000)
    mid_history = (big_history[0] // 2, big_history[1] // 2)
    with scratch() as tmp:
        small = await _phase(tmp, n, rounds, None, 0)
    if quick:  # a smoke run: the small town stands in for the mid one
        mid = small
    else:
        with scratch() as tmp:
            mid = await _phase(tmp, n, rounds, mid_history, 0)
    with scratch() as tmp:
        big = await _phase(tmp, n, rounds, big_history, ticks)
    report_ok = big["report_after_tick_ms"] <= 1.5 * mid["report_after_tick_ms"] + 10
    # each polled figure over the quiet ticks it alternated with
    big["slowdown_polling_report"] = round(big["tick_ms_polling_report"] / big["tick_ms_quiet"], 2)
    big["slowdown_polling_healthz"] = round(big["tick_ms_polling_healthz"] / big["tick_ms_quiet_2"], 2)
    tick_ok = big["slowdown_polling_report"] <= 1.5 * big["slowdown_polling_healthz"]
    emit(
        "report",
        {
            "agents": n,
            "rounds": rounds,
            "history_ticks": [mid_history[0], big_history[0]],
            "history_memories": [mid_history[1], big_history[1]],
        },
        {"small": small, "mid": mid, "big": big},
        "the report after a tick at the big history costs at most 1.5x (+10 ms) what it costs at half "
        "of it (both past 600 points per plotted series, so the report is the same size); 4 clients "
        "polling /report.json slow the tick round trip (against the quiet ticks alternating with them) "
        "at most 1.5x as much as 4 clients polling /healthz do",
        report_ok and tick_ok,
        notes="small: a few real ticks, for scale (its series are short, so its report is smaller); "
        "tick_ms_polling_healthz: the same four pollers fetching /healthz, the HTTP load alone",
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
