"""Bytes kept for replay per agent-tick, in a 1000-agent town (SQLite, scripted model).

The town is ticked over the websocket; then the `frames` rows its ticks committed are summed and
divided by agents x ticks. For scale, the same run gives the size of a naive replay log: every
agent's replay fields as JSON every tick, uncompressed. The cost of making a frame is timed on
the live town's agents with a recorder of its own (median of the ticks after the first).
Target: at most 64 bytes per agent-tick at 1000 agents, and a frame made in at most 5 ms.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import orjson
import sqlalchemy as sa

from bench._common import ADMIN, emit, main_async, median_ms, scratch, settings

TARGET_BYTES = 64.0
TARGET_FRAME_MS = 5.0


async def run(quick: bool) -> None:
    from server.app import run_town
    from server.client import TownClient
    from server.db import schema as t
    from server.runs.replay import FrameRecorder, decode, fields_of

    agents, ticks = (100, 20) if quick else (1000, 110)
    naive = 0
    frame_s: list[float] = []
    with scratch() as tmp:
        async with run_town(settings(tmp, agents, runs={"checkpoint_every": 0})) as town:
            w = town.services.world
            c = await TownClient.connect(town.ws_url)
            await c.call("login", token=ADMIN)
            timing = FrameRecorder()
            for _ in range(ticks):
                await c.call("tick")
                naive += len(orjson.dumps([fields_of(a) for a in w.agents.values()]))
                t0 = time.perf_counter()
                timing.frame(w.clock.tick, str(w.clock), w.clock.game_seconds, w.agents.values())
                frame_s.append(time.perf_counter() - t0)
            c.close()
            async with w.repo.engine.connect() as conn:
                rows = [
                    (int(k), bytes(d))
                    for k, d in await conn.execute(sa.select(t.frames.c.tick, t.frames.c.data))
                ]
    stored = sum(len(d) for _, d in rows)
    keys = [(k, d) for k, d in rows if decode(d).get("k")]
    deltas = [d for k, d in rows if not decode(d).get("k")]
    changed = sum(len(decode(d)["a"]) for d in deltas)
    per = stored / (agents * ticks)
    frame_ms = median_ms(frame_s[1:])
    figs = {
        "agents": agents,
        "ticks": ticks,
        "frames": len(rows),
        "keyframes": [k for k, _ in keys],
        "bytes_stored": stored,
        "bytes_per_agent_tick": round(per, 2),
        "keyframe_bytes_per_agent": round(sum(len(d) for _, d in keys) / max(1, len(keys)) / agents, 2),
        "delta_bytes_per_changed_agent": round(sum(len(d) for d in deltas) / max(1, changed), 2),
        "changed_agents_per_tick": round(changed / max(1, len(deltas)), 1),
        "naive_json_bytes_per_agent_tick": round(naive / (agents * ticks), 2),
        "frame_ms_median": round(frame_ms, 3),
    }
    emit(
        "replay",
        {"agents": agents, "ticks": ticks, "db": "sqlite", "llm": "scripted"},
        figs,
        f"<= {TARGET_BYTES:g} bytes per agent-tick and a frame made in <= {TARGET_FRAME_MS:g} ms",
        per <= TARGET_BYTES and frame_ms <= TARGET_FRAME_MS,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
