"""Named runs: list, fork (now and at a checkpoint), open, archive, delete, on SQLite and MySQL;
a fork re-run from a checkpoint reproduces its parent; deleting a run touches no other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import townclient as tc
from config.settings import RunSettings
from server.app import Running, run_town
from server.client import CommandError, TownClient
from server.runs.store import checkpoint_slot
from tests.conftest import ADMIN, make_settings
from tests.db_rows import table_rows
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.town_responder import town_responder

# columns that differ between two runs of the same ticks: wall-clock times, the meta table
# (lineage, commit markers), replay frames (a fork opened mid-way writes a keyframe first), and
# the ids of llm_calls rows (concurrent calls finish, and are booked, in any order), and their
# prefix_tokens (measured against the process's previous call of the agent, not the run's)
TIMINGS = (
    "ticks.summary",
    "llm_calls.latency_ms",
    "llm_calls.id",
    "llm_calls.prefix_tokens",
    "meta.value",
    "meta.key",
    "frames.data",
)


def same_ticks(summary: dict[str, Any]) -> dict[str, Any]:
    """A tick answer without its wall-clock timings."""
    return {k: v for k, v in summary.items() if k not in ("wall_ms", "phases_ms")}


async def admin_of(r: Running) -> TownClient:
    c = await TownClient.connect(r.ws_url)
    await c.call("login", token=ADMIN)
    return c


def runs_by_name(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in listing["runs"]}


async def test_fork_open_archive_delete_never_touch_another_run(db_url: str) -> None:
    settings = make_settings(db_url, runs={"checkpoint_every": 2, "keep_checkpoints": 2})
    async with run_town(settings) as r:
        admin = await admin_of(r)
        store = r.services.runs
        assert store is not None
        for _ in range(6):
            await admin.call("tick")
        runs = runs_by_name(await admin.call("list_runs"))
        assert list(runs) == ["main"] and runs["main"]["open"] and runs["main"]["tick"] == 6
        assert runs["main"]["checkpoints"] == [4, 6], "keeps the last 2 checkpoints, every 2 ticks"

        now = (await admin.call("fork_run", name="now"))["run"]
        assert (now["parent"], now["fork_tick"], now["tick"], now["open"]) == ("main", 6, 6, False)
        early = (await admin.call("fork_run", name="early", tick=4))["run"]
        assert (early["parent"], early["fork_tick"], early["tick"]) == ("main", 4, 4)
        with pytest.raises(CommandError) as e:
            await admin.call("fork_run", name="older", tick=2)
        assert e.value.code == "not_found" and "kept: [4, 6]" in e.value.message
        with pytest.raises(CommandError) as e:
            await admin.call("fork_run", name="now")
        assert e.value.code == "conflict"
        with pytest.raises(CommandError) as e:
            await admin.call("fork_run", name="Bad Name!")
        assert e.value.code == "invalid_request"

        main_rows, now_rows = table_rows(store.url("main")), table_rows(store.url("now"))
        watcher = await TownClient.connect(r.ws_url)
        await watcher.call("subscribe")
        opened = (await admin.call("open_run", name="early"))["run"]
        assert opened["open"] and opened["tick"] == 4 and r.services.world.clock.tick == 4
        push = await watcher.next_push("reset")
        assert push["data"] == {"tick": 4, "run": "early"}
        for _ in range(3):
            await admin.call("tick")
        assert (await admin.call("info"))["tick"] == 7
        assert table_rows(store.url("main")) == main_rows, "ticking a fork changed its parent"
        assert table_rows(store.url("now")) == now_rows, "ticking a fork changed its sibling"

        with pytest.raises(CommandError) as e:
            await admin.call("delete_run", name="early", confirm=True)
        assert e.value.code == "conflict", "the open run is never deleted"
        with pytest.raises(CommandError) as e:
            await admin.call("delete_run", name="main", confirm=True)
        assert e.value.code == "conflict"
        grand = (await admin.call("fork_run", name="grandchild", open=True))["run"]
        assert (grand["parent"], grand["fork_tick"], grand["open"]) == ("early", 7, True)
        early_rows = table_rows(store.url("early"))
        await admin.call("tick")
        with pytest.raises(CommandError):
            await admin.call("delete_run", name="early")  # no confirm
        await admin.call("open_run", name="main")
        assert r.services.world.clock.tick == 6
        gone = await admin.call("delete_run", name="grandchild", confirm=True)
        assert gone["name"] == "grandchild"
        runs = runs_by_name(await admin.call("list_runs"))
        assert set(runs) == {"main", "now", "early"} and runs["main"]["open"]
        assert (runs["early"]["tick"], runs["early"]["parent"]) == (7, "main")
        assert table_rows(store.url("main")) == main_rows
        assert table_rows(store.url("now")) == now_rows
        assert table_rows(store.url("early")) == early_rows, "deleting a child changed its parent"

        await admin.call("archive_run", name="now")
        assert set(runs_by_name(await admin.call("list_runs"))) == {"main", "early"}
        assert runs_by_name(await admin.call("list_runs", archived=True))["now"]["archived"]
        with pytest.raises(CommandError) as e:
            await admin.call("open_run", name="now")
        assert e.value.code == "conflict"
        with pytest.raises(CommandError) as e:
            await admin.call("archive_run", name="main")
        assert e.value.code == "conflict", "the open run is not archived"
        await admin.call("archive_run", name="now", archived=False)
        await admin.call("open_run", name="now")
        assert r.services.world.clock.tick == 6

        viewer = await TownClient.connect(r.ws_url)
        assert (await viewer.call("list_runs"))["open"] == "now"
        with pytest.raises(CommandError) as e:
            await viewer.call("fork_run", name="mine")
        assert e.value.code == "forbidden"
        for c in (admin, watcher, viewer):
            c.close()
    # a restart opens `main` again, with the forks still there
    async with run_town(settings) as r:
        admin = await admin_of(r)
        assert set(runs_by_name(await admin.call("list_runs"))) == {"main", "now", "early"}
        assert r.services.world.clock.tick == 6
        admin.close()


async def test_a_checkpoint_is_copied_while_the_town_ticks_on(db_url: str) -> None:
    """A checkpoint holds the world only while its snapshot begins: when `after_tick` returns the
    copy is still to be made and the world's lock is free, ticks commit meanwhile, and the
    checkpoint is the run exactly as it was at its tick."""
    async with run_town(make_settings(db_url, runs={"checkpoint_every": 0})) as r:
        admin = await admin_of(r)
        store, w = r.services.runs, r.services.world
        assert store is not None
        for _ in range(4):
            await admin.call("tick")
        at_4 = table_rows(store.url("main"))
        store.settings = RunSettings(checkpoint_every=4)
        assert await store.after_tick(4, w.lock) == 4
        assert store.copying and not w.lock.locked()
        moved = [(await admin.call("tick"))["moved"] for _ in range(3)]
        assert sum(moved) > 0, "the town changed while the checkpoint was copied"
        assert runs_by_name(await admin.call("list_runs"))["main"]["checkpoints"] == [4]
        assert not store.copying
        assert table_rows(store.url(checkpoint_slot("main", 4))) == at_4
        early = (await admin.call("fork_run", name="early", tick=4))["run"]
        assert (early["tick"], early["fork_tick"]) == (4, 4)
        admin.close()


async def test_a_fork_from_a_checkpoint_reproduces_its_parent(db_url: str) -> None:
    """Run A 12 ticks; fork it at its checkpoint of tick 6 and run the fork 6 ticks: the same
    answers, and every table the same (but for wall-clock timings and the lineage)."""
    async with run_town(make_settings(db_url, runs={"checkpoint_every": 6})) as r:
        admin = await admin_of(r)
        store = r.services.runs
        assert store is not None
        parent = [same_ticks(await admin.call("tick")) for _ in range(12)]
        assert sum(t["llm_calls"] for t in parent[6:]) > 0 and sum(t["moved"] for t in parent[6:]) > 0
        await admin.call("fork_run", name="again", tick=6, open=True)
        child = [same_ticks(await admin.call("tick")) for _ in range(6)]
        assert child == parent[6:]
        assert table_rows(store.url("again"), TIMINGS) == table_rows(store.url("main"), TIMINGS)
        admin.close()


async def test_a_fork_replayed_from_the_llm_cache_reproduces_its_parent(tmp_path: Path) -> None:
    """Through the real `openai` SDK: run A 10 ticks against the fake OpenAI server, recording the
    answers; then, the model server gone, fork A at its checkpoint of tick 5 and tick the fork with
    the cache in replay mode: the same ticks as A after tick 5."""
    db = f"sqlite:///{tmp_path / 'town.sqlite3'}"
    cache = {"cache_dir": str(tmp_path / "cache")}
    async with FakeOpenAIServer(responder=town_responder) as srv:
        prof = srv.profile()
        settings = make_settings(
            db, llm=prof, llm_limits={**cache, "cache_mode": "record"}, runs={"checkpoint_every": 5}
        )
        async with run_town(settings) as r:
            admin = await admin_of(r)
            parent = [same_ticks(await admin.call("tick")) for _ in range(10)]
            admin.close()
        assert srv.served > 0
    assert sum(t["llm_calls"] for t in parent[5:]) > 0
    settings = make_settings(
        db, llm=prof, llm_limits={**cache, "cache_mode": "replay"}, runs={"checkpoint_every": 5}
    )
    async with run_town(settings) as r:
        admin = await admin_of(r)
        store = r.services.runs
        assert store is not None
        await admin.call("fork_run", name="again", source="main", tick=5, open=True)
        child = [same_ticks(await admin.call("tick")) for _ in range(5)]
        assert child == parent[5:]
        skip = (*TIMINGS, "llm_calls.cached", "llm_calls.cost_usd")  # replayed calls are cached, free
        assert table_rows(store.url("again"), skip) == table_rows(store.url("main"), skip)
        admin.close()


async def test_run_changes_publish_a_runs_push(town: Running, admin: TownClient) -> None:
    """fork_run, archive_run and delete_run tell every subscriber (a `runs` push); a refused change
    tells nobody; the drivers' client reads past the push to the one it waits for."""
    watcher = await TownClient.connect(town.ws_url)
    await watcher.call("subscribe")
    driver = await tc.TownClient.connect(town.ws_url)
    await driver.subscribe()

    async def next_push() -> tuple[str, dict[str, Any]]:
        p = await watcher.next_push(timeout=5)
        return p["type"], p["data"]

    await admin.call("fork_run", name="side")
    assert await next_push() == ("runs", {"change": "forked", "name": "side"})
    await admin.call("archive_run", name="side")
    assert await next_push() == ("runs", {"change": "archived", "name": "side"})
    await admin.call("archive_run", name="side", archived=False)
    assert await next_push() == ("runs", {"change": "unarchived", "name": "side"})
    await admin.call("delete_run", name="side", confirm=True)
    assert await next_push() == ("runs", {"change": "deleted", "name": "side"})
    for refused in (
        admin.call("delete_run", name="side", confirm=True),  # gone already
        admin.call("fork_run", name="main"),  # the name is taken
        admin.call("archive_run", name="main"),  # the open run
    ):
        with pytest.raises(CommandError):
            await refused
    # forking with open=true: the new run is listed, then opened (and the refusals sent nothing)
    await admin.call("fork_run", name="next", open=True)
    assert await next_push() == ("runs", {"change": "forked", "name": "next"})
    kind, data = await next_push()
    assert (kind, data["run"]) == ("reset", "next")

    # the driver's client decodes the push, and waiting for a tick skips it
    first = await driver.next_push(timeout=5)
    assert (first.type, first.data) == ("runs", {"change": "forked", "name": "side"})
    await admin.call("tick")
    assert (await driver.next_push("tick", timeout=5)).data["tick"] == town.services.world.clock.tick
    assert (await next_push())[0] == "tick"
    watcher.close()
    await driver.close()
