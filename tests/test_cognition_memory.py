"""Stream and long-term memory: ranking, reflection, scale, impressions, persistence hooks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.interfaces import AgentBrief, LLMRequest, MemoryRecord, PlanDecision
from agent.llm.embedders import HashingEmbedder
from agent.llm.scripted import ScriptedModel
from agent.memory.long_term import LongTermMemory
from agent.memory.stream import StreamMemory
from agent.mind import AgentMind
from agent.prompts import default_book
from tests.fakes.scripted_llm import RecordingModel, sample_perception


def mind_with(model: RecordingModel | ScriptedModel, dim: int = 128) -> AgentMind:
    return AgentMind("a1", model, HashingEmbedder(dim), default_book(), call_timeout_s=1.0)


def importance_by_text(scores: dict[str, int]) -> RecordingModel:
    def answer(req: LLMRequest) -> str:
        if req.kind == "importance":
            return json.dumps({"score": scores.get(str(req.context.get("text")), 1)})
        return '{"insights": ["I care about bread"]}'

    return RecordingModel(answer)


async def test_stream_ranks_relevant_recent_important_higher() -> None:
    texts = {
        "bread is baked in the oven at the bakery": 2,
        "the park has a green bench": 2,
        "Bob won the lottery and bought a house": 9,
        "I baked bread again at the bakery": 2,
    }
    mind = mind_with(importance_by_text(texts))
    memory = StreamMemory()
    for tick, text in enumerate(texts):
        await memory.observe(mind, sample_perception(tick=tick * 10), "observation", text)
    now = sample_perception(tick=40)
    top = await memory.retrieve(mind, now, "bake bread at the bakery", k=4)
    order = [r.text for r in top]
    assert order[0] == "I baked bread again at the bakery"  # relevant and most recent
    assert order.index("bread is baked in the oven at the bakery") < order.index("the park has a green bench")
    assert order.index("Bob won the lottery and bought a house") < order.index("the park has a green bench")
    assert [r.text for r in await memory.retrieve(mind, now, "bread", k=1)] == [order[0]]


async def test_reflection_triggers_past_threshold() -> None:
    model = importance_by_text({f"event {i}": 6 for i in range(10)})
    mind = mind_with(model)
    memory = StreamMemory(reflect_threshold=30)
    for i in range(4):
        await memory.observe(mind, sample_perception(tick=i), "observation", f"event {i}")
    assert "reflect" not in model.kinds()
    await memory.observe(mind, sample_perception(tick=5), "observation", "event 4")  # 5 * 6 = 30
    assert model.kinds().count("reflect") == 1
    reflections = [r for r in memory.recent(10) if r.kind == "reflection"]
    assert [r.text for r in reflections] == ["I care about bread"]
    new = memory.drain_new()
    assert len(new) == 6 and memory.drain_new() == []
    vectors = memory.vectors()
    assert vectors is not None
    for i, record in enumerate(new):  # the copies handed to the database carry the vectors
        assert record.text == memory.records[i].text and record.embedding is not None
        assert np.array_equal(record.embedding, vectors[i])


async def test_stream_retrieval_over_100k_memories() -> None:
    dim = 64
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((100_000, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        MemoryRecord(
            "a1", "observation", f"m{i}", tick=i % 5000, importance=float(i % 10 + 1), embedding=vectors[i]
        )
        for i in range(100_000)
    ]
    memory = StreamMemory()
    memory.load(records)
    assert memory.drain_new() == [] and len(memory) == 100_000
    mind = mind_with(ScriptedModel(), dim)
    got = await memory.retrieve(mind, sample_perception(tick=5000), "anything", k=10)
    assert len(got) == 10 and len({id(r) for r in got}) == 10
    # the same ranking as scoring in float64, one row at a time
    q = np.asarray((await mind.embedder.embed(["anything"]))[0], dtype=np.float64)
    relevance = vectors.astype(np.float64) @ q
    recency = memory.decay ** (5000.0 - np.array([r.tick for r in records], dtype=np.float64))
    importance = np.array([r.importance for r in records])

    def norm(x: np.ndarray) -> np.ndarray:
        return (x - x.min()) / (x.max() - x.min())

    a, b, c = memory.weights
    want = np.argsort(-(a * norm(recency) + b * norm(importance) + c * norm(relevance)), kind="stable")[:10]
    assert [r.text for r in got] == [f"m{i}" for i in want]


def test_matvec_split_across_cores_matches_one_product() -> None:
    """Above `PARALLEL_ROWS` rows the relevance product is split across threads; every score is
    the product of its own row, for row counts that do not divide evenly."""
    from agent.memory.stream import PARALLEL_ROWS, matvec, matvec_pool

    rng = np.random.default_rng(1)
    with matvec_pool() as pool:
        for n in (PARALLEL_ROWS, PARALLEL_ROWS + 1, 3 * PARALLEL_ROWS + 61):
            m = rng.standard_normal((n, 48)).astype(np.float32)
            v = rng.standard_normal(48).astype(np.float32)
            for got in (matvec(m, v, pool), matvec(m, v)):
                assert got.dtype == np.float32 and got.shape == (n,)
                assert np.allclose(got, m.astype(np.float64) @ v.astype(np.float64), rtol=1e-4, atol=1e-4)


async def test_the_server_owns_and_closes_the_stream_memories_thread_pool(tmp_path: Path) -> None:
    """Stream memories share the thread pool the server opened, and closing the server shuts it."""
    from server.app import run_town
    from tests.conftest import make_settings

    async with run_town(make_settings(f"sqlite:///{tmp_path / 't.sqlite3'}")) as r:
        mem = r.services.world.plugins.make_memory("stream")
        assert isinstance(mem, StreamMemory) and mem.pool is not None
        pool = mem.pool
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(int)


async def test_stream_loaded_without_embeddings_embeds_lazily() -> None:
    memory = StreamMemory()
    memory.load(
        [
            MemoryRecord("a1", "chat", "Bob talked about bread", tick=1),
            MemoryRecord("a1", "chat", "Cat talked about the weather", tick=1),
        ]
    )
    mind = mind_with(ScriptedModel())
    top = await memory.retrieve(mind, sample_perception(tick=2), "bread", k=1)
    assert top[0].text == "Bob talked about bread"
    vectors = memory.vectors()
    assert vectors is not None and vectors.shape[0] == 2 and np.all(np.linalg.norm(vectors, axis=1) > 0)


async def test_stream_plan_finished_is_remembered() -> None:
    memory = StreamMemory()
    await memory.on_plan_finished(
        mind_with(ScriptedModel()),
        sample_perception(),
        PlanDecision("bakery", "bake bread"),
        "baked three loaves",
    )
    assert memory.recent(1)[0].kind == "plan" and memory.recent(1)[0].subject == "bakery"


async def test_long_term_impression_updates_after_chat() -> None:
    model = RecordingModel(delegate=ScriptedModel())
    mind = mind_with(model)
    p = sample_perception(nearby=(AgentBrief("b2", "Bob", 1, "idle", ""),))
    memory = LongTermMemory()
    await memory.observe(mind, p, "chat", "Bob said he loves sourdough", subject="b2")
    first = memory.impression_of("b2")
    assert first is not None and "sourdough" in first
    assert model.requests[-1].context["subject_name"] == "Bob"
    await memory.observe(mind, p, "chat", "Bob offered to teach me baking", subject="b2")
    second = memory.impression_of("b2")
    assert second != first and "teach" in (second or "")
    assert model.requests[-1].context["previous"] == first
    assert sum(r.kind == "impression" for r in memory.recent(50)) == 1  # replaced, not piled up
    await memory.observe(mind, p, "observation", "it rained")  # no subject: no impression call
    assert model.kinds().count("impression") == 2


async def test_long_term_experience_and_retrieval() -> None:
    mind = mind_with(ScriptedModel())
    p = sample_perception(building_id="bakery")
    memory = LongTermMemory(max_events=3)
    await memory.on_plan_finished(mind, p, PlanDecision("bakery", "bake bread"), "baked three loaves")
    for i in range(5):
        await memory.observe(mind, p, "observation", f"noise {i}")
    assert len(memory.events) == 3
    got = await memory.retrieve(mind, p, "bread", k=2)
    assert got[0].kind == "experience" and "went well" in got[0].text
    assert got[1].text == "noise 4"  # then the most recent
    new = memory.drain_new()
    assert len(new) == 6
    clone = LongTermMemory(max_events=3)
    clone.load(new)
    assert [r.text for r in clone.recent(10)] == [r.text for r in memory.recent(10)]
    assert clone.drain_new() == []
