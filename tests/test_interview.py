"""Interview: an agent answers from its memory and nothing is stored, on SQLite and MySQL."""

from __future__ import annotations

from typing import Any

import pytest

from server.app import Running, run_town
from server.client import CommandError, TownClient
from tests.conftest import ADMIN, make_settings
from tests.db_rows import table_rows


def memory_state(r: Running, agent_id: str) -> tuple[Any, ...]:
    """An agent's in-memory state that an interview must leave alone: its record, plan, memory."""
    a = r.services.world.agents[agent_id]
    mem = a.mem
    assert mem is not None
    records = tuple((m.kind, m.text, m.tick, m.importance, m.subject, m.id) for m in mem.recent(100_000))
    extra = (
        getattr(mem, "_since_reflect", None),
        getattr(mem, "reflections", None),
        len(getattr(mem, "_new", ())),
    )
    return (a.to_row(), a.planner.dump() if a.planner else None, records, extra, tuple(a.inbox))


async def test_interview_answers_from_memory_and_stores_nothing(db_url: str) -> None:
    async with run_town(make_settings(db_url)) as r:
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        w = r.services.world
        for _ in range(200):  # until agents of both memory kinds remember something
            await admin.call("tick")
            if {a.mem.name for a in w.agents.values() if a.mem is not None and a.mem.recent(1)} == {
                "stream",
                "long_term",
            }:
                break
        kinds = {a.mem.name for a in w.agents.values() if a.mem is not None}
        assert kinds == {"stream", "long_term"}
        watcher = await TownClient.connect(r.ws_url)
        await watcher.call("subscribe")
        await watcher.call("info")
        watcher.pushes.clear()
        asked_with_memories: set[str] = set()
        for a in sorted(w.agents.values(), key=lambda a: a.id):
            assert a.mem is not None
            before_db, before_mem = table_rows(db_url), memory_state(r, a.id)
            if a.mem.recent(1):
                remembered = a.mem.recent(1)[0].text
                ans = await admin.call("interview", agent_id=a.id, question=f"What about this: {remembered}")
                assert ans["memories"] and "What I remember" in ans["answer"]
                asked_with_memories.add(a.mem.name)
            else:
                ans = await admin.call("interview", agent_id=a.id, question="What did you do today?")
                assert ans["memories"] == [] and "don't remember" in ans["answer"]
            assert ans["agent_id"] == a.id and not ans["failed"]
            assert ans["calls"] >= 1 and ans["tokens"] > 0 and a.name in ans["answer"]
            assert table_rows(db_url) == before_db, f"interviewing {a.id} changed the database"
            assert memory_state(r, a.id) == before_mem, f"interviewing {a.id} changed its memory or plan"
        assert asked_with_memories == {"stream", "long_term"}
        # nothing was published either, and the next tick stores no interview call
        with pytest.raises(TimeoutError):
            await watcher.next_push(timeout=0.3)
        await admin.call("tick")
        kinds_stored = {row["kind"] for row in await w.repo.rows("llm_calls")}
        assert "interview" not in kinds_stored
        admin.close()
        watcher.close()


async def test_interview_is_for_the_owner_or_the_admin(town: Running, admin: TownClient) -> None:
    owner = await TownClient.connect(town.ws_url)
    await owner.call("login", player="ana", secret="ana-secret-1")
    made = await owner.call("register", name="Ana Owner", bio="A baker.", goal="Bake bread.")
    aid = made["agent"]["id"]
    other = await TownClient.connect(town.ws_url)
    await other.call("login", player="bo", secret="bo-secret-12")
    with pytest.raises(CommandError) as e:
        await other.call("interview", agent_id=aid, question="Who are you?")
    assert e.value.code == "forbidden"
    viewer = await TownClient.connect(town.ws_url)
    with pytest.raises(CommandError) as e:
        await viewer.call("interview", agent_id=aid, question="Who are you?")
    assert e.value.code == "forbidden"
    ans = await owner.call("interview", agent_id=aid, question="Who are you?")
    assert "Ana Owner" in ans["answer"] and ans["memories"] == []
    preset = sorted(town.services.world.agents)[0]
    with pytest.raises(CommandError):
        await owner.call("interview", agent_id=preset, question="Who are you?")
    assert (await admin.call("interview", agent_id=preset, question="Who are you?"))["agent_id"] == preset
    with pytest.raises(CommandError) as e:
        await admin.call("interview", agent_id="nobody", question="Who are you?")
    assert e.value.code == "not_found"
    for c in (owner, other, viewer):
        c.close()
