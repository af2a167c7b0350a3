"""A tick always completes, whatever other clients do meanwhile, over the real websocket: agents
deleted while the tick's agents think drop out of it, and a reset during a run of ticks stops the
run after the tick in flight, so nothing of the old town reaches the new one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

from server.app import run_town
from server.client import TownClient
from tests.conftest import ADMIN, make_settings, table_counts
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.town_responder import town_responder


async def test_agents_deleted_every_few_ms_drop_out_of_a_20_tick_run(sqlite_url: str) -> None:
    async with (
        FakeOpenAIServer(responder=town_responder, latency=0.01) as llm,
        run_town(make_settings(sqlite_url, llm=llm.profile())) as r,
    ):
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        player = await TownClient.connect(r.ws_url)
        await player.call("login", player="pat", secret="pat-secret")
        names = (f"Temp {i}" for i in itertools.count())
        done = asyncio.Event()
        deleted: list[str] = []

        async def churn() -> None:
            # agents that were just registered think in the next tick; delete them while it runs
            while not done.is_set():
                ids = [
                    (await player.call("register", name=next(names), bio="b", goal="visit the cafe"))[
                        "agent"
                    ]["id"]
                    for _ in range(3)
                ]
                for aid in ids:
                    await asyncio.sleep(0.003)
                    await player.call("delete_agent", agent_id=aid)
                    deleted.append(aid)

        churner = asyncio.create_task(churn())
        try:
            frame = await admin.request("tick", {"count": 20})
        finally:
            done.set()
            await churner
        assert frame.get("ok"), frame
        assert frame["result"]["ticks"] == 20
        w = r.services.world
        assert w.clock.tick == 20 and not w.stale
        assert len(deleted) >= 10, "the churn did not overlap the ticks"
        assert not set(deleted) & set(w.agents)
        # what is in memory is what is stored: no half-made tick waits to be saved later
        town = await admin.call("get_town")
        admin.close()
        player.close()
    async with run_town(make_settings(sqlite_url, llm=llm.profile())) as r2:
        c = await TownClient.connect(r2.ws_url)
        assert (await c.call("get_town"))["agents"] == town["agents"]
        assert await r2.services.world.repo.count("ticks") == 20
        c.close()


async def test_reset_during_a_run_of_ticks_stops_it_and_leaks_nothing(sqlite_url: str) -> None:
    async with FakeOpenAIServer(responder=town_responder, latency=0.03) as llm:
        async with run_town(make_settings(sqlite_url, llm=llm.profile())) as r:
            w = r.services.world
            ticker = await TownClient.connect(r.ws_url)
            await ticker.call("login", token=ADMIN)
            resetter = await TownClient.connect(r.ws_url)
            await resetter.call("login", token=ADMIN)
            for i in range(6):  # the old town is bigger than the one a reset founds
                await resetter.call("register", name=f"Extra {i}", bio="b", goal="visit the cafe")
            presets = len(w.agents) - 6
            await resetter.call("subscribe")
            run = asyncio.create_task(ticker.request("tick", {"count": 20}))
            await resetter.next_push("tick")  # the run's first tick is committed
            reset = await resetter.call("reset", confirm=True)
            frame = await run
            assert frame.get("ok"), frame
            assert reset == {"tick": 0, "agents": presets, "buildings": reset["buildings"]}
            assert 1 <= frame["result"]["ticks"] < 20, "the run went on ticking the new town"
            # the new town has not ticked: no tick rows, no LLM calls of the wiped agents
            assert w.clock.tick == 0 and len(w.agents) == presets
            counts = table_counts(sqlite_url)
            assert counts["ticks"] == 0 and counts["llm_calls"] == 0, counts
            # and it ticks as a fresh town does
            first = await ticker.call("tick")
            assert first["tick"] == 1 and first["stepped"] == presets
            with_rows = await w.repo.rows("llm_calls")
            assert {c["tick"] for c in with_rows} == {1}
            ticker.close()
            resetter.close()


async def test_a_tick_cancelled_mid_thought_leaves_nothing_half_done(sqlite_url: str) -> None:
    """A tick cancelled while its agents think (the server shutting down, say) has cleared inboxes
    it never committed: the town reloads before the next command, so the agent still hears what
    was said to it and nothing of the half tick is saved."""
    from server.world.step import run_tick

    async with (
        FakeOpenAIServer(responder=town_responder, latency=2.0) as llm,
        run_town(make_settings(sqlite_url, llm=llm.profile())) as r,
    ):
        w = r.services.world
        a = w.agents[sorted(w.agents)[0]]
        a.inbox.append("Bob Martin says: the bakery is hiring")
        w.dirty.agents.add(a.id)
        await w.commit()
        tick = asyncio.create_task(run_tick(w, r.services.models, 30.0))
        await llm.wait_in_flight(1)
        assert a.inbox == []  # heard by the step under way
        tick.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick
        assert w.stale
        c = await TownClient.connect(r.ws_url)
        town = await c.call("get_town")  # any command reloads first
        c.close()
        assert town["tick"] == 0 and not w.stale
        assert w.agents[a.id].inbox == ["Bob Martin says: the bakery is hiring"]
        assert await w.repo.count("ticks") == 0 and await w.repo.count("llm_calls") == 0
