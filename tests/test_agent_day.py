"""An agent's day through the real server on the offline model: timed actions without model
calls, salient events that interrupt them, sleep at night, conversations with turns and an end,
the same day from the same seed, and restarts in the middle of an action and of a conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent import day
from agent.interfaces import Action
from agent.state import ActorState
from server.app import Running, run_town
from server.client import TownClient
from server.errors import ActionRefused
from server.world import rules, talk
from server.world.world import World
from tests.conftest import ADMIN, make_settings


def _calls_of(rows: list[dict[str, Any]], agent_id: str, after: int) -> int:
    return sum(1 for r in rows if r["agent_id"] == agent_id and r["tick"] > after)


def _at_night(w: World, minute: int) -> None:
    """Put the town's clock at `minute` of its first day (as if it had ticked there)."""
    w.clock.tick = (minute - w.clock.start_minute) * 60 // w.clock.tick_seconds


async def _alone(town: Running, admin: TownClient, *names: str) -> None:
    """Keep only the preset agents named (so nobody else can talk to them)."""
    for a in list(town.services.world.agents.values()):
        if a.name not in names:
            await admin.call("delete_agent", agent_id=a.id)


async def test_no_model_call_during_an_action_until_it_ends(town: Running, admin: TownClient) -> None:
    w = town.services.world
    await _alone(town, admin, "Alice Chen")
    alice = w.agents["alice-chen"]
    await admin.call("tick")
    async with w.lock:  # at the cafe, a 20-minute breakfast
        alice.x, alice.y, alice.path, alice.state = *w.buildings["cafe"].entrance, [], ActorState.IDLE
        alice.target, alice.visit_minutes = "cafe", 20
        rules.apply(
            w, alice, Action("use", equipment_id="cafe/1-cafe-table", operation="sit and chat", minutes=20)
        )
        await w.commit()
    start, ends = w.clock.tick, alice.busy_until
    assert ends - start == day.ticks_for(20, w.clock.tick_seconds) == 120
    stepped = [(await admin.call("tick"))["stepped"] for _ in range(ends - start - 1)]
    assert stepped == [0] * len(stepped) and alice.state is ActorState.USING
    assert _calls_of(await w.repo.rows("llm_calls"), alice.id, start) == 0
    for _ in range(3):  # the action is over: she frees the table, leaves and plans again
        await admin.call("tick")
    assert alice.state is not ActorState.USING and alice.using is None
    assert _calls_of(await w.repo.rows("llm_calls"), alice.id, start) > 0


async def test_a_known_person_arriving_interrupts_an_action(town: Running, admin: TownClient) -> None:
    w = town.services.world
    await _alone(town, admin, "Alice Chen", "Bob Martin")
    alice, bob = w.agents["alice-chen"], w.agents["bob-martin"]
    await admin.call("tick")
    async with w.lock:
        alice.x, alice.y, alice.path, alice.state = *w.buildings["cafe"].entrance, [], ActorState.IDLE
        alice.target, alice.visit_minutes = "cafe", 60
        rules.apply(
            w, alice, Action("use", equipment_id="cafe/1-cafe-table", operation="sit and chat", minutes=60)
        )
        alice.acquaintances[bob.id] = -10_000  # they talked long ago
        rules.apply(w, bob, Action("move", building_id="cafe", purpose="eat lunch at the cafe", minutes=30))
        await w.commit()
    start = w.clock.tick
    for _ in range(100):
        await admin.call("tick")
        if alice.conversation is not None:
            break
    # Bob's arrival was salient to Alice: she broke off to greet him, with no call before it
    assert alice.conversation is not None and bob.conversation == alice.conversation
    c = w.conversations[alice.conversation]
    assert c.initiator == alice.id and c.participants == [alice.id, bob.id]
    assert alice.state is ActorState.USING  # the breakfast goes on meanwhile
    rows = await w.repo.rows("llm_calls")
    kinds = [r["kind"] for r in rows if r["agent_id"] == alice.id and r["tick"] > start]
    assert kinds and kinds[-1] == "chat"


async def test_a_task_offered_interrupts_a_busy_agent_once(town: Running, admin: TownClient) -> None:
    w = town.services.world
    await _alone(town, admin, "Eva Novak")
    eva = w.agents["eva-novak"]
    await admin.call("tick", count=5)
    assert w.clock.tick < eva.busy_until, "Eva is not busy with her breakfast"
    start = w.clock.tick
    await admin.call(
        "post_task",
        task={"title": "Sweep the park", "reward": 5, "condition": {"type": "ledger_total", "percent": 200}},
    )
    await admin.call("tick", count=30)
    kinds = [
        r["kind"] for r in await w.repo.rows("llm_calls") if r["agent_id"] == eva.id and r["tick"] > start
    ]
    assert kinds == ["task_decide"] and eva.seen_tasks == ["t1"]


async def test_everyone_sleeps_at_home_at_night_without_a_call(town: Running, admin: TownClient) -> None:
    w = town.services.world
    async with w.lock:
        _at_night(w, 23 * 60 + 30)
    for _ in range(40):  # home they go
        await admin.call("tick", count=10)
        if all(a.state is ActorState.SLEEPING for a in w.agents.values()):
            break
    for a in w.agents.values():
        assert a.state is ActorState.SLEEPING and a.home and (a.x, a.y) == w.buildings[a.home].entrance
        assert a.busy_until > w.clock.tick
    asleep_at = w.clock.tick
    summaries = [await admin.call("tick", count=100) for _ in range(12)]  # two game hours of night
    assert all(s["stepped"] == 0 for s in summaries)
    assert _calls_of(await w.repo.rows("llm_calls"), "", asleep_at) == 0
    assert not [e for e in await w.repo.rows("events") if e["tick"] > asleep_at]
    # in the morning, each wakes at its own time and starts its day
    wake = max(day.wake_time(a.id) for a in w.agents.values())
    async with w.lock:
        _at_night(w, 24 * 60 + wake + 1)
        for a in w.agents.values():
            a.busy_until = min(a.busy_until, w.clock.tick + 2)
    await admin.call("tick", count=5)
    assert not any(a.state is ActorState.SLEEPING for a in w.agents.values())


async def test_conversation_takes_turns_and_ends(town: Running) -> None:
    w = town.services.world
    alice, bob = w.agents["alice-chen"], w.agents["bob-martin"]
    bob.x, bob.y = alice.x, alice.y
    async with w.lock:
        rules.apply(w, alice, Action("chat", target=bob.id, text="Hi Bob!", news="The fair is on Sunday."))
        c = w.conversations[alice.conversation or ""]
        assert c.next_speaker == bob.id and bob.conversation == c.id
        try:  # not Alice's turn
            rules.apply(w, alice, Action("say", text="And another thing."))
            raise AssertionError("Alice spoke out of turn")
        except ActionRefused as e:
            assert "turn" in e.message
        assert "The fair is on Sunday." in bob.news and alice.told[bob.id] == ["The fair is on Sunday."]
        for i in range(talk.MAX_TURNS - 1):
            speaker = bob if i % 2 == 0 else alice
            rules.apply(w, speaker, Action("say", text=f"Line {i}."))
        # the turn limit ended it: both free, both remember it, the transcript is stored
        assert c.ended_tick is not None and c.end_reason == "turn limit" and c.id not in w.conversations
        assert alice.conversation is bob.conversation is None
        summary = next(m for m in bob.mem.recent(5) if m.kind == "conversation")  # type: ignore[union-attr]
        assert "Alice Chen told me the news: The fair is on Sunday." in summary.text
        await w.commit()
    row = (await w.repo.rows("conversations"))[0]
    assert row["id"] == c.id and row["ended_tick"] is not None
    assert len(talk.Conversation.from_row(row).turns) == talk.MAX_TURNS
    lines = await w.repo.rows("events", where={"conversation_id": c.id})
    assert [line["agent_id"] for line in lines[:3]] == [alice.id, bob.id, alice.id]
    async with w.lock:  # a goodbye ends one early
        alice.acquaintances.clear()
        rules.apply(w, bob, Action("chat", target=alice.id, text="Hello again."))
        rules.apply(w, alice, Action("say", text="Bye for now, Bob.", end=True))
        assert alice.conversation is None and not w.conversations


def _day_now(w: World) -> dict[str, Any]:
    """Everything of the agents' day a restart must bring back."""
    return {
        "tick": w.clock.tick,
        "agents": {
            a.id: (
                (a.x, a.y, a.state.value, a.cash, a.target, a.purpose, a.label, a.using, a.path),
                (a.busy_until, a.activity, a.visit_minutes, a.conversation, a.home, a.acts_here),
                (a.acquaintances, a.news, a.told, a.seen_tasks, a.inbox),
                a.planner.dump() if a.planner is not None else None,
            )
            for a in w.agents.values()
        },
        "conversations": {c.id: c.row() for c in w.conversations.values()},
    }


async def test_restart_mid_action_and_mid_conversation_goes_on_as_its_twin(
    db_url: str, tmp_path: Path
) -> None:
    """A town restarted while an agent is in the middle of a timed action and two are in the
    middle of a conversation ticks on exactly as a twin that never restarted (SQLite and MySQL)."""
    twin_url = f"sqlite:///{tmp_path / 'twin.sqlite3'}"
    async with run_town(make_settings(twin_url, seed=5)) as t:
        ct = await TownClient.connect(t.ws_url)
        await ct.call("login", token=ADMIN)
        async with run_town(make_settings(db_url, seed=5)) as r:
            w = r.services.world
            c = await TownClient.connect(r.ws_url)
            await c.call("login", token=ADMIN)
            for _ in range(900):
                await c.call("tick")
                await ct.call("tick")
                busy = [
                    a for a in w.agents.values() if a.state is ActorState.USING and a.conversation is None
                ]
                talking = [cv for cv in w.conversations.values() if 1 <= len(cv.turns) < 3]
                if busy and talking:
                    break
            assert busy and talking, "no tick with an agent mid-action and a conversation under way"
            assert _day_now(w) == _day_now(t.services.world)
            c.close()
        async with run_town(make_settings(db_url, seed=5)) as r2:
            w2 = r2.services.world
            assert _day_now(w2) == _day_now(t.services.world)
            c = await TownClient.connect(r2.ws_url)
            await c.call("login", token=ADMIN)
            for _ in range(40):  # the conversation ends, the action runs out, both towns alike
                s, st = await c.call("tick"), await ct.call("tick")
                assert (s["tick"], s["stepped"], s["llm_calls"]) == (
                    st["tick"],
                    st["stepped"],
                    st["llm_calls"],
                )
                assert _day_now(w2) == _day_now(t.services.world)
            assert talking[0].id not in w2.conversations
            lines = await w2.repo.rows("events", where={"conversation_id": talking[0].id})
            twin_lines = await t.services.world.repo.rows("events", where={"conversation_id": talking[0].id})
            assert [x["text"] for x in lines] == [x["text"] for x in twin_lines] and len(lines) >= 3
            c.close()
        ct.close()


async def test_same_seed_same_day(tmp_path: Path) -> None:
    """Two towns with the same seed live the same morning: the same lines, uses and moves."""
    runs = []
    for name in ("a", "b"):
        async with run_town(make_settings(f"sqlite:///{tmp_path / name}.sqlite3", seed=3)) as r:
            c = await TownClient.connect(r.ws_url)
            await c.call("login", token=ADMIN)
            for _ in range(10):
                await c.call("tick", count=120)
            c.close()
            events = [
                (e["tick"], e["kind"], e["agent_id"], e["text"])
                for e in await r.services.world.repo.rows("events")
            ]
            runs.append((_day_now(r.services.world), events))
    assert runs[0] == runs[1]
    kinds = {k for _, k, _, _ in runs[0][1]}
    assert {"use", "chat"} <= kinds, kinds


async def test_database_of_schema_4_is_migrated_to_conversations(db_url: str) -> None:
    """A town saved before conversations (schema 4: no conversations table, no
    events.conversation_id, no llm_calls.prefix_tokens) starts, keeps its rows and stores
    conversations and prefix tokens from then on."""
    import sqlalchemy as sa

    from config.settings import ROOT
    from server.db import schema
    from server.db.repository import Repository

    async with run_town(make_settings(db_url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("tick", count=2)
        c.close()
    repo = await Repository.open(db_url, ROOT)
    async with repo.engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE conversations")
        await conn.exec_driver_sql("ALTER TABLE events DROP COLUMN conversation_id")
        await conn.exec_driver_sql("ALTER TABLE llm_calls DROP COLUMN prefix_tokens")
        await conn.execute(
            sa.update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="4")
        )
    events_before = await repo.count("events")
    await repo.close()
    async with run_town(make_settings(db_url)) as r2:
        w = r2.services.world
        assert await w.repo.count("events") == events_before
        c = await TownClient.connect(r2.ws_url)
        await c.call("login", token=ADMIN)
        alice, bob = w.agents["alice-chen"], w.agents["bob-martin"]
        async with w.lock:
            bob.x, bob.y = alice.x, alice.y
            rules.apply(w, alice, Action("chat", target=bob.id, text="Hello, Bob."))
        await c.call("tick", count=3)
        c.close()
        rows = await w.repo.rows("conversations")
        assert rows and rows[0]["id"].startswith("t") and "alice-chen" in rows[0]["id"]
        assert (await w.repo.rows("events", where={"conversation_id": rows[0]["id"]}))[0][
            "text"
        ] == "Hello, Bob."
        calls = await w.repo.rows("llm_calls")
        assert any(x["prefix_tokens"] > 0 for x in calls)


async def test_a_player_talk_is_one_conversation_until_goodbye(town: Running, client: TownClient) -> None:
    w = town.services.world
    await client.call("login", player="sam", secret="sam-secret")
    first = await client.call("chat_with_npc", agent_id="eva-novak", text="Hi Eva, what are you reading?")
    second = await client.call(
        "chat_with_npc", agent_id="eva-novak", text="Sounds fun. Anything new in town?"
    )
    assert first["conversation_id"] == second["conversation_id"] and not second["ended"]
    last = await client.call("chat_with_npc", agent_id="eva-novak", text="Bye for now!")
    assert last["conversation_id"] == first["conversation_id"] and last["ended"]
    row = next(r for r in await w.repo.rows("conversations") if r["id"] == first["conversation_id"])
    c = talk.Conversation.from_row(row)
    assert c.participants == ["player:sam", "eva-novak"] and len(c.turns) == 6 and c.end_reason == "goodbye"
    eva = w.agents["eva-novak"]
    assert any(m.kind == "conversation" and "sam" in m.text for m in eva.mem.recent(10))  # type: ignore[union-attr]
    again = await client.call("chat_with_npc", agent_id="eva-novak", text="Oh, one more thing.")
    assert again["conversation_id"] != first["conversation_id"]
