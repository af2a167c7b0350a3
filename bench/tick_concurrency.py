"""Tick wall time against the LLM floor: N agents that all think in the same tick, every call
through the real `openai` SDK over HTTP to the fake OpenAI-compatible server (own process, set
latency), the tick sent over a real websocket to the real server (`run_town`, port 0).

floor = (most metered calls of one agent in the tick: calls within a step are sequential) x latency.

The fake server runs `--restless`: agents leave a building instead of using its equipment, so no
action lasts and every agent decides again at once (a town's agents are mostly busy with timed
actions and make no call; this is the worst case, all of them deciding in one tick).

Ticks measured per N: tick 1 (cold: every agent plans, HTTP connections opened for the first
time) and the warm ticks: those of ticks 4-10 in which every agent called the model and the
tick made at least 95% of tick 1's calls, i.e. every agent planned (`move_tiles_per_tick` is
1000, so agents arrive at tick 2, act and leave at tick 3, and from then on every other tick has
all of them planning: ticks 4, 6, 8, 10; the ticks between have some acting). The warm figure is
the median of the warm ticks' ratios (each is listed): one tick on a shared VM moves by several
percent. The model pool is built before tick 1 and its cost reported (`pool_build_s`); the
server otherwise builds it inside the first tick.

Baseline: the same ticks with `llm_limits.concurrency` 1, i.e. one LLM call at a time, agents
stepped one after another as Generative Agents does. For N above the largest sequential size it
is extrapolated from the per-agent time of the largest measured run (marked `extrapolated`).
Sequential sizes are 10 and 100 (a 60 s tick at N=100); N=1000 would take ten minutes and is
extrapolated from N=100.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench._common import ADMIN, FakeLLM, emit, fake_llm, main_async, now, scratch, settings

LATENCY = 0.2
TICKS = 10
WARM_FROM = 4


async def run_town_ticks(n: int, fake: FakeLLM, concurrency: int, ticks: int) -> dict[int, dict[str, Any]]:
    """Tick a fresh town of `n` agents `ticks` times; the figures of every tick with LLM calls."""
    from agent.model_service import ModelService
    from server.app import run_town, tune_gc
    from townclient import TownClient

    out: dict[int, dict[str, Any]] = {}
    with scratch() as tmp:
        s = settings(
            tmp,
            n,
            llm={"provider": "openai", "base_url": fake.url, "api_key": "x", "model": "fake"},
            llm_limits={"concurrency": concurrency},
            move_tiles_per_tick=1000,
        )
        async with run_town(s) as town:
            tune_gc()  # as `python -m server` does once the town is loaded
            models = town.services.models
            assert isinstance(models, ModelService)
            t0 = now()
            models.pool.model(None)  # as start-up would; see the module docstring
            pool_build = now() - t0
            async with await TownClient.connect(town.ws_url) as c:
                await c.call("login", token=ADMIN)
                for _ in range(ticks):
                    cpu0, fake0, t0 = time.process_time(), fake.cpu_s(), now()
                    summary = await c.call("tick")
                    wall = now() - t0
                    cpu, fake_cpu = time.process_time() - cpu0, fake.cpu_s() - fake0
                    calls = await town.services.world.repo.rows("llm_calls", where={"tick": summary["tick"]})
                    per_agent = collections.Counter(r["agent_id"] for r in calls)
                    chain = max(per_agent.values(), default=0)
                    if not chain:
                        continue
                    out[summary["tick"]] = {
                        "stepped": summary["stepped"],
                        "llm_calls": summary["llm_calls"],
                        "agents_calling": len(per_agent),
                        "failures": summary["failures"],
                        "chain": chain,
                        "wall_s": round(wall, 3),
                        "floor_s": round(chain * LATENCY, 3),
                        "ratio": round(wall / (chain * LATENCY), 3),
                        "server_cpu_s": round(cpu, 3),
                        "fake_llm_cpu_s": round(fake_cpu, 3),
                        "server_cpu_ms_per_call": round(cpu * 1000 / max(1, summary["llm_calls"]), 2),
                        "pool_build_s": round(pool_build, 3),
                    }
    return out


def warm(ticks: dict[int, dict[str, Any]], n: int) -> dict[str, Any]:
    """The median warm tick (by ratio) of ticks from WARM_FROM on in which all `n` agents planned
    (all called the model, 95% of tick 1's calls or more), with every warm tick's ratio."""
    full = 0.95 * ticks[1]["llm_calls"]
    rows = sorted(
        (
            r
            for t, r in ticks.items()
            if t >= WARM_FROM and r["agents_calling"] == n and r["llm_calls"] >= full
        ),
        key=lambda r: r["ratio"],
    )
    if not rows:
        raise RuntimeError(f"no warm tick with all {n} agents thinking among ticks {sorted(ticks)}")
    mid = dict(rows[len(rows) // 2])  # the upper middle of an even count
    mid["ratios_of_warm_ticks"] = [r["ratio"] for r in rows]
    mid["failures"] = sum(r["failures"] for r in rows)
    return mid


async def run(quick: bool) -> None:
    env = os.environ.get
    sizes = [10] if quick else [int(x) for x in env("BENCH_SIZES", "10,100,1000").split(",")]
    seq_sizes = [5] if quick else [int(x) for x in env("BENCH_SEQ_SIZES", "10,100").split(",")]
    rows: dict[str, Any] = {}
    seq: dict[str, Any] = {}
    with fake_llm(LATENCY, restless=True) as fake:
        await run_town_ticks(2, fake, 2000, 1)  # warm up imports and the fake server
        for n in sizes:
            r = await run_town_ticks(n, fake, 2000, TICKS)
            rows[str(n)] = {"agents": n, "cold": r[1], "warm": warm(r, n)}
        for n in seq_sizes:  # the cold tick only: the same work, one LLM call at a time
            r = await run_town_ticks(n, fake, 1, 1)
            seq[str(n)] = {
                "wall_s": r[1]["wall_s"],
                "llm_calls": r[1]["llm_calls"],
                "per_agent_s": round(r[1]["wall_s"] / n, 4),
                "extrapolated": False,
            }
    per_agent = seq[str(seq_sizes[-1])]["per_agent_s"]
    for n in sizes:
        row = rows[str(n)]
        base = seq.get(str(n)) or {"wall_s": round(per_agent * n, 3), "extrapolated": True}
        row["sequential_wall_s"] = base["wall_s"]
        row["sequential_extrapolated"] = base["extrapolated"]
        row["speedup_vs_sequential"] = round(base["wall_s"] / row["cold"]["wall_s"], 1)
    key = "100" if "100" in rows else str(sizes[-1])
    ratio = rows[key]["warm"]["ratio"]
    ok = ratio <= 1.3 and all(r[k]["failures"] == 0 for r in rows.values() for k in ("cold", "warm"))
    emit(
        "tick_concurrency",
        {
            "sizes": sizes,
            "latency_s": LATENCY,
            "llm": "openai SDK over HTTP -> fake server in its own process",
            "concurrency": 2000,
            "plan": "qa",
            "memory": "long_term",
            "sequential_sizes": seq_sizes,
            "ticks": TICKS,
            "measured": {
                "cold": "tick 1",
                "warm": f"median of ticks >= {WARM_FROM} with every agent thinking",
            },
        },
        {"ratio_at_target_n": ratio, "ticks": rows, "sequential": seq},
        f"warm wall/floor <= 1.3 at N={key}",
        ok,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
