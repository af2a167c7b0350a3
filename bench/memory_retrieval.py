"""The `stream` memory's top-10 retrieval over 1k, 10k and 100k memories of one agent.

Memories are loaded as the server restores them (`StreamMemory.load`, with their embeddings from
the offline hashing embedder, dim 256); a retrieval is `retrieve(mind, perception, query, k=10)`:
the query's embedding plus scoring every record (recency, importance, relevance) and the top 10.
The baseline, `baseline_product_ms`, is measured in the same run: numpy's plain `M @ q` over the
same embeddings, on one core under `./town bench` (one BLAS thread), the least an exact retrieval
that reads every embedding once on one core costs on this machine at this moment.
Bytes per stored memory are measured with tracemalloc (numpy reports its buffers to it): record,
text, embedding and the memory's own arrays.

The repeated retrievals of one agent find its embeddings in the processor's caches when they fit
(a host's L3 may hold 100k x 256 floats, 102 MB, or not). `cold_median_ms`, at the largest size
of a full run, is the same retrieval after 1 GiB has been written elsewhere, so the embeddings
come from main memory, as when the rest of a tick has run in between.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench._common import emit, main_async

WORDS = (
    "bread coffee market park library friend chat money job cook music book garden rain sun "
    "walk talk buy sell paint fish river school doctor mayor party cake tea shop river hill"
).split()


@dataclass
class _Mind:
    """The part of a Mind that retrieval touches: the embedder."""

    embedder: Any


@dataclass
class _P:
    tick: int
    agent_id: str = "bench"


def _texts(n: int, rng: random.Random) -> list[str]:
    return [f"I saw {' '.join(rng.choices(WORDS, k=8))} near {rng.choice(WORDS)} ({i})" for i in range(n)]


def _records(n: int, rng: random.Random, embedder: Any) -> list[Any]:
    from agent.interfaces import MemoryRecord

    texts = _texts(n, rng)
    vectors = np.concatenate([embedder.embed_sync(texts[i : i + 5000]) for i in range(0, n, 5000)])
    return [
        MemoryRecord(
            "bench", "observation", t, tick=i // 10, importance=float(rng.randint(1, 9)), embedding=vectors[i]
        )
        for i, t in enumerate(texts)
    ]


EVICT_BYTES = 1 << 30


async def _measure(n: int, reps: int, embedder: Any, cold: bool = False) -> dict[str, Any]:
    from agent.memory.stream import StreamMemory, matvec_pool

    with matvec_pool() as pool:  # as the server hands every stream memory its pool
        return await _measure_with(lambda: StreamMemory(pool=pool), n, reps, embedder, cold)


async def _measure_with(
    make_memory: Callable[[], Any], n: int, reps: int, embedder: Any, cold: bool
) -> dict[str, Any]:

    rng = random.Random(n)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    mem = make_memory()
    records = _records(n, rng, embedder)
    mem.load(records)
    gc.collect()
    stored = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    vectors = mem.vectors()  # the memory keeps them (its records hand theirs over)
    assert vectors is not None
    matrix = np.array(vectors)  # a copy of its own, for the baseline product
    del records
    # stand-ins with just what retrieval reads (the Mind and Perception protocols are wider)
    mind: Any = _Mind(embedder)
    p: Any = _P(tick=n // 10 + 5)
    queries = [" ".join(rng.choices(WORDS, k=4)) for _ in range(reps)]
    await mem.retrieve(mind, p, queries[0], k=10)  # warm
    full, score_only, product = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        top = await mem.retrieve(mind, p, q, k=10)
        full.append(time.perf_counter() - t0)
        assert len(top) == 10
        qv = embedder.embed_sync([q])[0]
        t0 = time.perf_counter()
        s = mem.scores(qv, now=p.tick)
        np.argpartition(-s, 9)[:10]
        score_only.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        matrix @ qv
        product.append(time.perf_counter() - t0)
    cold_ms = []
    if cold:
        evict = np.empty(EVICT_BYTES, dtype=np.uint8)
        for q in queries[:10]:
            evict[:] = 1  # push the embeddings out of every cache level
            t0 = time.perf_counter()
            await mem.retrieve(mind, p, q, k=10)
            cold_ms.append(time.perf_counter() - t0)
        del evict
    return {
        "memories": n,
        "median_ms": round(statistics.median(full) * 1000, 3),
        **({"cold_median_ms": round(statistics.median(cold_ms) * 1000, 3)} if cold_ms else {}),
        "p90_ms": round(sorted(full)[int(0.9 * len(full))] * 1000, 3),
        "median_ms_scoring_only": round(statistics.median(score_only) * 1000, 3),
        "baseline_product_ms": round(statistics.median(product) * 1000, 3),
        "bytes_per_memory": round(stored / n),
        "embedding_dim": embedder.dim,
    }


async def run(quick: bool) -> None:
    from agent.llm.embedders import HashingEmbedder

    sizes, reps = ([1000, 10_000], 20) if quick else ([1000, 10_000, 100_000], 50)
    embedder = HashingEmbedder()
    rows = {str(n): await _measure(n, reps, embedder, cold=not quick and n == sizes[-1]) for n in sizes}
    big = rows[str(sizes[-1])]
    emit(
        "memory_retrieval",
        {"sizes": sizes, "k": 10, "repetitions": reps, "embedder": "hashing, dim 256"},
        {"by_memories": rows},
        f"median < 10 ms at {sizes[-1]} memories (and from main memory, in a full run)",
        big["median_ms"] < 10 and big.get("cold_median_ms", 0) < 10,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
