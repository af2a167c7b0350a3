"""Resident memory (RSS) of a server with 1000 agents, each with 1000 `stream` memories.

The town is started with `run_town` (SQLite, scripted model); each agent's memories are then
loaded into its stream memory the way a restart restores them (`Memory.load`, records with
256-float embeddings; the vectors are random unit vectors, the texts distinct sentences). RSS is
read from /proc before the town, with the town, and with the memories.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence, Sized
from typing import cast

import numpy as np

from bench._common import emit, main_async, rss_bytes, scratch, settings

MB = 1 << 20


async def run(quick: bool) -> None:
    from agent.interfaces import MemoryRecord
    from server.app import run_town, tune_gc

    agents, per = (100, 100) if quick else (1000, 1000)
    base = rss_bytes()
    rng = np.random.default_rng(0)
    with scratch() as tmp:
        async with run_town(settings(tmp, agents, memory="stream")) as town:
            tune_gc()  # as `python -m server` does once the town is loaded
            gc.collect()
            town_rss = rss_bytes()
            for a in town.services.world.agents.values():
                vecs = rng.standard_normal((per, 256)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                assert a.mem is not None
                a.mem.load(
                    [
                        MemoryRecord(
                            a.id,
                            "observation",
                            f"{a.name} saw neighbour {i} buy bread at the market",
                            tick=i,
                            importance=float(1 + i % 9),
                            embedding=vecs[i],
                        )
                        for i in range(per)
                    ]
                )
            gc.collect()
            full = rss_bytes()
            stored = sum(
                len(cast(Sized, a.mem)) for a in town.services.world.agents.values()
            )  # StreamMemory is Sized
    figs = {
        "agents": agents,
        "memories_per_agent": per,
        "memories": stored,
        "rss_before_town_mb": round(base / MB, 1),
        "rss_town_mb": round(town_rss / MB, 1),
        "rss_with_memories_mb": round(full / MB, 1),
        "bytes_per_memory": round((full - town_rss) / max(1, stored)),
        "embedding_bytes": 256 * 4,
    }
    emit(
        "footprint",
        {"agents": agents, "memories_per_agent": per, "memory": "stream", "embedding_dim": 256},
        figs,
        "report only (no target)",
        True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
