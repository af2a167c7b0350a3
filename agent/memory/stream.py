"""Memory plug-in "stream": the Generative Agents memory stream.

Every record (observation, chat, plan outcome) gets an importance (one `importance` call) and an
embedding (`mind.embedder`). Retrieval scores all records at once with numpy: recency
(`decay ** (now - tick)`), importance and relevance (cosine to the query), each min-max
normalised, weighted and summed; top-k by `argpartition`. When the importance summed since the
last reflection passes `reflect_threshold`, the agent reflects on its recent records (one
`reflect` call) and stores the insights as "reflection" records.

Arrays are preallocated and grow by doubling: `_emb` (n, dim) float32, `_ticks`, `_imp`.
A record's vector lives only in `_emb`: once copied there, the record's own `embedding` is set
to None (a second copy was 1 KB of a 2.5 KB record). `drain_new` hands the world copies of the
new records with their vectors, for the database; `vectors()` reads them in memory.
Records loaded without an embedding are embedded in one batch before the next retrieval.

The relevance product reads every embedding once (102 MB at 100k records of 256 floats), so it
runs at the speed of memory; one core cannot draw all of a machine's memory bandwidth, so from
`PARALLEL_ROWS` records on, `matvec` splits the rows across the machine's cores in the threads of
the pool the memory was given (BLAS releases the GIL; the server owns the pool, see
`server.app.run_town`; without one, the product is one call). The split is at multiples of 64 rows; with a single-threaded BLAS (as
`python -m server` and `./town` set it) every score is then the same as from one call, bit for
bit. A multi-threaded BLAS splits rows its own way, which changes last bits either way.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import ClassVar

import numpy as np

from agent.interfaces import MemoryRecord, Mind, Perception, PlanDecision
from agent.prompts.context import persona_context
from agent.prompts.schemas import Importance, Reflection

log = logging.getLogger(__name__)

_DEFAULT_IMPORTANCE = 3.0

# Rows from which a relevance product is split across cores (below it, handing work to threads
# costs more than it saves).
PARALLEL_ROWS = 32_768
_ALIGN = 64
MAX_WORKERS = 4


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def matvec_workers() -> int:
    """How many threads a `matvec` pool should have on this machine (at most `MAX_WORKERS`)."""
    return min(MAX_WORKERS, _cores())


def matvec_pool() -> ThreadPoolExecutor:
    """A thread pool for `matvec`; its owner shuts it down (no thread starts until it is used)."""
    return ThreadPoolExecutor(max_workers=matvec_workers(), thread_name_prefix="matvec")


def matvec(m: np.ndarray, v: np.ndarray, pool: Executor | None = None) -> np.ndarray:
    """`m @ v` for a C-contiguous float32 matrix and vector; split by rows across the cores
    (at most `MAX_WORKERS` threads of `pool`) when `m` has `PARALLEL_ROWS` rows or more."""
    n = m.shape[0]
    if pool is None or n < PARALLEL_ROWS:  # no syscall on the small, common path
        return m @ v
    workers = matvec_workers()
    if workers < 2:
        return m @ v
    step = -(-n // workers // _ALIGN) * _ALIGN
    out = np.empty(n, dtype=np.float32)
    jobs = [pool.submit(np.dot, m[i : i + step], v, out[i : i + step]) for i in range(0, n, step)]
    for job in jobs:
        job.result()
    return out


def _minmax(x: np.ndarray) -> np.ndarray:
    """`x` scaled to [0, 1] (all zeros when constant), as a new float32 array."""
    low = x.min()
    span = float(x.max() - low)
    if span <= 0.0:
        return np.zeros(x.shape, dtype=np.float32)
    out = np.subtract(x, low, dtype=np.float32)
    out *= np.float32(1.0 / span)
    return out


class StreamMemory:
    """Observations, chats and reflections, retrieved by recency + importance + relevance."""

    name: ClassVar[str] = "stream"

    def __init__(
        self,
        *,
        reflect_threshold: float = 150.0,
        decay: float = 0.995,
        reflect_window: int = 100,
        reflection_importance: float = 8.0,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        capacity: int = 256,
        pool: Executor | None = None,
    ) -> None:
        if not 0.0 < decay <= 1.0:
            raise ValueError("decay must be in (0, 1]")
        self.reflect_threshold = reflect_threshold
        self.decay = decay
        self.reflect_window = reflect_window
        self.reflection_importance = reflection_importance
        self.weights = weights
        self.pool = pool  # threads for big relevance products (see `matvec`); not owned
        self.records: list[MemoryRecord] = []
        self.reflections = 0
        self._since_reflect = 0.0
        self._new: list[int] = []  # rows of `records` created since the last drain
        self._cap = max(1, capacity)
        self._ticks = np.zeros(self._cap, dtype=np.float64)
        self._imp = np.zeros(self._cap, dtype=np.float32)
        self._emb: np.ndarray | None = None  # allocated once the dimension is known
        self._unembedded: list[int] = []

    # ------------------------------------------------------------------ storage

    def _grow(self, needed: int) -> None:
        if needed <= self._cap:
            return
        cap = self._cap
        while cap < needed:
            cap *= 2
        self._ticks = np.resize(self._ticks, cap)
        self._imp = np.resize(self._imp, cap)
        if self._emb is not None:
            emb = np.zeros((cap, self._emb.shape[1]), dtype=np.float32)
            emb[: len(self.records)] = self._emb[: len(self.records)]
            self._emb = emb
        self._cap = cap

    def _set_vectors(self, rows: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if self._emb is None:
            self._emb = np.zeros((self._cap, vectors.shape[1]), dtype=np.float32)
        if vectors.shape[1] != self._emb.shape[1]:
            raise ValueError(f"embedding dimension {vectors.shape[1]} != memory's {self._emb.shape[1]}")
        self._emb[list(rows)] = vectors
        for i in rows:
            self.records[i].embedding = None  # the matrix row is the one copy

    def _append(self, records: Sequence[MemoryRecord]) -> int:
        """Add records (taking them over: their vectors move into the matrix); their first row."""
        start = len(self.records)
        self._grow(start + len(records))
        self.records.extend(records)
        stop = len(self.records)
        self._ticks[start:stop] = [r.tick for r in records]
        self._imp[start:stop] = [r.importance for r in records]
        dim = self._emb.shape[1] if self._emb is not None else None
        with_vec = [
            (start + i, r.embedding)
            for i, r in enumerate(records)
            if r.embedding is not None and (dim is None or r.embedding.shape[-1] == dim)
        ]
        if with_vec and dim is None:
            dim = with_vec[0][1].shape[-1]
            with_vec = [(i, v) for i, v in with_vec if v.shape[-1] == dim]
        if with_vec:
            self._set_vectors([i for i, _ in with_vec], np.stack([v for _, v in with_vec]))
        have = {i for i, _ in with_vec}
        self._unembedded.extend(i for i in range(start, stop) if i not in have)
        return start

    async def _embed_pending(self, mind: Mind) -> None:
        if not self._unembedded:
            return
        rows = self._unembedded
        vectors = await mind.embedder.embed([self.records[i].text for i in rows])
        self._set_vectors(rows, vectors)
        self._unembedded = []

    # ------------------------------------------------------------------ Memory

    async def observe(
        self, mind: Mind, p: Perception, kind: str, text: str, subject: str | None = None
    ) -> None:
        """Store `text` with its importance and embedding; reflect if importance has piled up."""
        rated = await mind.ask("importance", persona_context(p, text=text), Importance)
        importance = float(rated.score) if rated is not None else _DEFAULT_IMPORTANCE
        vector = (await mind.embedder.embed([text]))[0]
        record = MemoryRecord(
            agent_id=p.agent_id,
            kind=kind,
            text=text,
            tick=p.tick,
            importance=importance,
            subject=subject,
            embedding=np.asarray(vector, dtype=np.float32),
        )
        self._new.append(self._append([record]))
        self._since_reflect += importance
        if self._since_reflect >= self.reflect_threshold:
            await self.reflect(mind, p)

    async def reflect(self, mind: Mind, p: Perception) -> list[MemoryRecord]:
        """Draw insights from the recent records and store them as reflections."""
        self._since_reflect = 0.0
        recent = [r.text for r in self.records[-self.reflect_window :]]
        answer = await mind.ask("reflect", persona_context(p, memories=recent), Reflection)
        if answer is None:
            return []
        vectors = await mind.embedder.embed(answer.insights)
        made = [
            MemoryRecord(
                agent_id=p.agent_id,
                kind="reflection",
                text=text,
                tick=p.tick,
                importance=self.reflection_importance,
                embedding=np.asarray(v, dtype=np.float32),
            )
            for text, v in zip(answer.insights, vectors, strict=True)
        ]
        start = self._append(made)
        self._new.extend(range(start, start + len(made)))
        self.reflections += 1
        log.debug("agent %s: reflected, %d insights", p.agent_id, len(made))
        return made

    async def retrieve(self, mind: Mind, p: Perception, query: str, k: int = 10) -> list[MemoryRecord]:
        """The `k` records scoring highest on recency + importance + relevance to `query`."""
        n = len(self.records)
        if n == 0 or k <= 0:
            return []
        await self._embed_pending(mind)
        q = np.asarray((await mind.embedder.embed([query]))[0], dtype=np.float32)
        scores = self.scores(q, now=p.tick)
        k = min(k, n)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self.records[i] for i in top.tolist()]

    def scores(self, query_vector: np.ndarray, *, now: int) -> np.ndarray:
        """The retrieval score of every record for a query embedding, at tick `now` (float32)."""
        n = len(self.records)
        a, b, c = self.weights
        age = np.maximum(np.float64(now) - self._ticks[:n], 0.0).astype(np.float32)
        recency = np.exp(age * np.float32(math.log(self.decay)), out=age)
        total = _minmax(recency)
        total *= np.float32(a)
        total += np.float32(b) * _minmax(self._imp[:n])
        if self._emb is not None and query_vector.shape[-1] == self._emb.shape[1]:
            relevance = matvec(self._emb[:n], query_vector.astype(np.float32, copy=False), self.pool)
            total += np.float32(c) * _minmax(relevance)
        return total

    async def on_plan_finished(self, mind: Mind, p: Perception, plan: PlanDecision, outcome: str) -> None:
        """Remember how a plan ended, as a "plan" record."""
        text = f"I went to {plan.building_id} to {plan.purpose}: {outcome}"
        await self.observe(mind, p, "plan", text, subject=plan.building_id)

    def load(self, records: Sequence[MemoryRecord]) -> None:
        """Add stored records (not reported by `drain_new`)."""
        self._append(list(records))
        since = 0.0
        for r in self.records:
            since = 0.0 if r.kind == "reflection" else since + r.importance
        self._since_reflect = since

    def drain_new(self) -> list[MemoryRecord]:
        """Records created since the last drain, for persistence: copies carrying their vectors."""
        new, self._new = self._new, []
        pending = set(self._unembedded)
        return [
            dataclasses.replace(
                self.records[i], embedding=None if self._emb is None or i in pending else self._emb[i].copy()
            )
            for i in new
        ]

    def vectors(self) -> np.ndarray | None:
        """The embeddings of `records`, row for row (a read-only view; None before the first)."""
        if self._emb is None:
            return None
        view = self._emb[: len(self.records)]
        view.flags.writeable = False
        return view

    def recent(self, n: int) -> list[MemoryRecord]:
        """The last `n` records stored, oldest first."""
        return self.records[-n:] if n > 0 else []

    def __len__(self) -> int:
        return len(self.records)
