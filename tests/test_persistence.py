"""Restarting the server restores every agent, building, balance and ledger entry — on SQLite
and on MySQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.app import run_town
from server.client import TownClient
from tests.conftest import ADMIN, make_settings


async def test_restart_restores_town(db_url: str) -> None:
    async with run_town(make_settings(db_url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        # an agent row's JSON holds any text: quotes, backslashes, non-ASCII
        a = (await c.call("register", name="Rae Stone", bio='Zoë\'s "café" \\ ☕', goal="g", cash=700))[
            "agent"
        ]
        b = (await c.call("create_building", template="stall", x=42, y=12, payer=a["id"]))["building"]
        before_town = await c.call("get_town")
        before_ledger = (await c.call("get_agent", agent_id=a["id"]))["ledger"]
        c.close()
        w = r.services.world
        balances = dict(w.ledger.accounts())
        assert w.ledger.total() == 0
    async with run_town(make_settings(db_url)) as r2:
        c = await TownClient.connect(r2.ws_url)
        after_town = await c.call("get_town")
        assert after_town["agents"] == before_town["agents"]
        assert next(x for x in after_town["agents"] if x["id"] == a["id"])["bio"] == 'Zoë\'s "café" \\ ☕'
        assert after_town["buildings"] == before_town["buildings"]
        assert any(x["id"] == b["id"] for x in after_town["buildings"])
        assert (await c.call("get_agent", agent_id=a["id"]))["ledger"] == before_ledger
        assert r2.services.world.ledger.accounts() == balances
        assert not r2.services.world.grid.walkable(43, 12)
        c.close()


async def test_stream_memories_restore_with_their_vectors(db_url: str) -> None:
    """A `stream` agent's memories come back after a restart with the same vectors, so retrieval
    scores the same; in memory each vector is kept once, in the memory's matrix, not also on
    its record."""
    import numpy as np

    from agent.memory.stream import StreamMemory

    async with run_town(make_settings(db_url)) as r:
        agent_id = next(a.id for a in r.services.world.agents.values() if a.memory_module == "stream")
        c = await TownClient.connect(r.ws_url)
        await c.call("login", player="Sam", secret="Sam-secret")
        for text in ("Hello! Do you bake bread?", "The market opens at nine.", "See you at the park."):
            await c.call("chat_with_npc", agent_id=agent_id, text=text)
        c.close()
        mem = r.services.world.agents[agent_id].mem
        assert isinstance(mem, StreamMemory) and len(mem) >= 3
        texts = [m.text for m in mem.records]
        vectors = mem.vectors()
        assert vectors is not None
        vectors = vectors.copy()
        scores = mem.scores(vectors[0], now=12)
        assert all(m.embedding is None for m in mem.records)
    async with run_town(make_settings(db_url)) as r2:
        mem2 = r2.services.world.agents[agent_id].mem
        assert isinstance(mem2, StreamMemory)
        assert [m.text for m in mem2.records] == texts
        restored = mem2.vectors()
        assert restored is not None and np.array_equal(restored, vectors)
        assert np.array_equal(mem2.scores(vectors[0], now=12), scores)
        assert all(m.embedding is None for m in mem2.records)


async def test_database_of_schema_1_is_migrated_on_start(db_url: str) -> None:
    """A town saved by the first schema (llm_calls without cost_usd, an index on every tick
    column and on llm_calls.agent_id) starts, keeps its rows, meters costs from then on and
    loses the indexes that version 3 drops (and none other)."""
    import sqlalchemy as sa

    from config.settings import ROOT
    from server.db import schema
    from server.db.repository import Repository

    async with run_town(make_settings(db_url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("tick", count=2)
        c.close()
    repo = await Repository.open(db_url, ROOT)  # back to schema 1, as an old server left it
    async with repo.engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE llm_calls DROP COLUMN cost_usd")
        for table, column in schema.DROPPED_INDEXES:
            await conn.exec_driver_sql(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
        await conn.execute(
            sa.update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="1")
        )
    calls_before = await repo.count("llm_calls")
    indexes_before = await _indexes(repo)
    await repo.close()
    assert calls_before > 0
    assert {(tb, col) for tb, col in schema.DROPPED_INDEXES} <= indexes_before
    async with run_town(make_settings(db_url)) as r2:
        c = await TownClient.connect(r2.ws_url)
        await c.call("login", token=ADMIN)
        assert (await c.call("tick", count=8))["tick"] == 10  # agents plan again: new llm_calls rows
        c.close()
        rows = await r2.services.world.repo.rows("llm_calls")
        version = await r2.services.world.repo.rows("meta", where={"key": "schema_version"}, order="key")
        indexes_after = await _indexes(r2.services.world.repo)
    assert indexes_after == indexes_before - set(schema.DROPPED_INDEXES)
    assert ("ledger", "src") in indexes_after and ("memories", "agent_id") in indexes_after
    assert len(rows) > calls_before and all(
        x["cost_usd"] == 0 for x in rows
    )  # the scripted model is unpriced
    assert version[0]["value"] == str(schema.SCHEMA_VERSION)


async def _indexes(repo) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(table, column) of every single-column, non-unique index."""
    import sqlalchemy as sa

    def read(c):  # type: ignore[no-untyped-def]
        insp = sa.inspect(c)
        return {
            (tb, ix["column_names"][0])
            for tb in insp.get_table_names()
            for ix in insp.get_indexes(tb)
            if len(ix["column_names"]) == 1 and not ix.get("unique")
        }

    async with repo.engine.connect() as conn:
        return await conn.run_sync(read)  # type: ignore[no-any-return]


def _big_batch(n: int, tick: int, bad_event: bool = False):  # type: ignore[no-untyped-def]
    """A batch of `n` memories and ledger entries whose texts hold quotes, backslashes, percent
    signs, NUL, CR, LF, ^Z, tab and non-ASCII, with random float32 embeddings: several MySQL statements' worth."""
    import numpy as np

    from agent.interfaces import MemoryRecord
    from server.records import Changes, Entry

    rng = np.random.default_rng(tick)
    texts = [
        f"it's {i}% \\done\\ \"quoted\" -- ; DROP TABLE x; \x00 \r\n\x1a\t café ☕ %s %(x)s ''{tick}"
        for i in range(n)
    ]
    memories = [
        MemoryRecord(
            f"a{i % 7}",
            "observation",
            texts[i] * (1 + i % 3),
            tick,
            importance=i % 10 / 3,
            subject=None if i % 2 else "x'y",
            embedding=rng.standard_normal(256).astype(np.float32),
        )
        for i in range(n)
    ]
    events = [{"tick": tick, "kind": "chat", "agent_id": "a1", "other_id": None, "text": texts[0]}]
    if bad_event:
        events.append(
            {"tick": tick, "kind": "chat", "agent_id": "a1", "other_id": None, "text": None}
        )  # NOT NULL
    return Changes(
        meta={"tick": tick},
        ledger=[Entry(tick, "town", f"agent:a{i % 7}", i, texts[i]) for i in range(n)],
        memories=memories,
        events=events,
    )


async def test_big_batch_round_trips_exactly(db_url: str) -> None:
    """Every value of a multi-statement batch reads back exactly as written (the MySQL path
    escapes rows itself while the server runs the statement before)."""
    await _round_trip(db_url)


@pytest.mark.mysql
async def test_big_batch_round_trips_under_no_backslash_escapes(mysql_url: str) -> None:
    """A MySQL server in sql_mode NO_BACKSLASH_ESCAPES reads a backslash as a plain character;
    the batch's strings must then be quoted by doubling quotes only, or every backslash would be
    stored twice."""
    await _round_trip(mysql_url + "?init_command=SET sql_mode='NO_BACKSLASH_ESCAPES'")


@pytest.mark.mysql
async def test_big_batch_round_trips_on_the_drivers_own_parameter_binding(mysql_url: str) -> None:
    """With `db_fast_literals` off, MySQL batches go through the driver's executemany, which binds
    the parameters itself: the same values read back."""
    await _round_trip(mysql_url, fast_literals=False)


@pytest.mark.mysql
async def test_plain_mysql_path_serves_a_town(mysql_url: str) -> None:
    """A town with `db_fast_literals: false` ticks and restores as the default one does."""
    settings = make_settings(mysql_url, db_fast_literals=False)
    async with run_town(settings) as r:
        assert not r.services.world.repo.fast_literals
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("register", name="Quinn O'Hara", bio='back\\slash "quotes" ☕', goal="g")
        for _ in range(5):
            await c.call("tick")
        before = await c.call("get_town")
        c.close()
    async with run_town(settings) as r2:
        c = await TownClient.connect(r2.ws_url)
        assert (await c.call("get_town"))["agents"] == before["agents"]
        assert await r2.services.world.repo.count("ticks") == 5
        c.close()


async def _round_trip(db_url: str, *, fast_literals: bool = True) -> None:
    import numpy as np

    from config.settings import ROOT
    from server.db.repository import Repository

    repo = await Repository.open(db_url, ROOT, fast_literals=fast_literals)
    try:
        ch = _big_batch(3000, 1)
        await repo.commit(ch)
        snap = await repo.load()
        assert len(snap.memories) == 3000
        for want, got in zip(ch.memories, snap.memories, strict=True):
            assert (got.agent_id, got.text, got.tick, got.subject) == (
                want.agent_id,
                want.text,
                want.tick,
                want.subject,
            )
            assert got.importance == pytest.approx(want.importance, rel=1e-5)  # MySQL FLOAT: 6 digits
            assert got.embedding is not None and np.array_equal(got.embedding, want.embedding)
        entries = await repo.ledger_entries()
        assert [(e.amount, e.reason) for e in entries] == [(e.amount, e.reason[:255]) for e in ch.ledger]
        assert snap.meta["tick"] == 1
    finally:
        await repo.close()


async def test_bad_row_late_in_a_big_batch_writes_nothing(db_url: str) -> None:
    """A row the database refuses, after thousands of good ones in earlier statements, fails the
    commit as a database error and leaves the database as of the commit before; the next batch
    commits normally."""
    import sqlalchemy as sa

    from config.settings import ROOT
    from server.db.repository import Repository

    repo = await Repository.open(db_url, ROOT)
    try:
        await repo.commit(_big_batch(10, 1))
        with pytest.raises(sa.exc.DBAPIError):
            await repo.commit(_big_batch(3000, 2, bad_event=True))
        assert (await repo.count("memories"), await repo.count("ledger"), await repo.count("events")) == (
            10,
            10,
            1,
        )
        assert (await repo.load()).meta["tick"] == 1
        await repo.commit(_big_batch(3000, 3))
        assert await repo.count("memories") == 3010
        assert (await repo.load()).meta["tick"] == 3
    finally:
        await repo.close()


async def test_sqlite_wal_is_checkpointed_off_the_commit(sqlite_url: str) -> None:
    """SQLite commits do not checkpoint themselves; once the WAL holds `checkpoint_bytes` the
    repository copies it into the database file in the background, so the WAL stays within
    that and a batch however many batches go in, and the database file alone holds them after
    close."""
    import sqlite3

    from config.settings import ROOT
    from server.db.repository import Repository

    path = Path(sqlite_url.split(":///", 1)[1])
    wal = Path(f"{path}-wal")
    repo = await Repository.open(sqlite_url, ROOT)
    sizes = []
    try:
        for tick in range(1, 13):
            await repo.commit(_big_batch(500, tick))  # about 1 MB of WAL each
            await repo.checkpointed()
            sizes.append(_size(wal))
        assert await repo.count("memories") == 6000
    finally:
        await repo.close()
    batch = sizes[0]
    assert max(sizes) < repo.checkpoint_bytes + 1.5 * batch, sizes
    assert min(sizes[4:]) < repo.checkpoint_bytes / 2, sizes  # started again after a checkpoint
    assert _size(wal) == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM memories").fetchone() == (6000,)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _agents_now(w: Any) -> dict[str, tuple[Any, ...]]:
    """Every agent's observable state and the world's per-visit bookkeeping."""
    return {
        a.id: (a.x, a.y, a.state.value, a.cash, a.target, a.purpose, a.label, a.acts_here, a.last_target)
        for a in w.agents.values()
    }


async def test_town_restarted_mid_visit_goes_on_as_its_unrestarted_twin(db_url: str, tmp_path: Path) -> None:
    """A town restarted while agents are in the middle of a visit (some actions taken at the
    building they went to) ticks on exactly as a twin that never restarted."""
    twin_url = f"sqlite:///{tmp_path / 'twin.sqlite3'}"
    async with run_town(make_settings(twin_url, seed=11)) as t:
        ct = await TownClient.connect(t.ws_url)
        await ct.call("login", token=ADMIN)
        async with run_town(make_settings(db_url, seed=11)) as r:
            c = await TownClient.connect(r.ws_url)
            await c.call("login", token=ADMIN)
            for _ in range(60):
                await c.call("tick")
                await ct.call("tick")
                assert _agents_now(r.services.world) == _agents_now(t.services.world)
                if sum(a.acts_here > 0 for a in r.services.world.agents.values()) >= 2:
                    break
            assert any(a.acts_here > 0 for a in r.services.world.agents.values()), "nobody is mid-visit"
            c.close()
        async with run_town(make_settings(db_url, seed=11)) as r2:
            assert _agents_now(r2.services.world) == _agents_now(t.services.world)
            c = await TownClient.connect(r2.ws_url)
            await c.call("login", token=ADMIN)
            for _ in range(30):
                s, st = await c.call("tick"), await ct.call("tick")
                assert (s["tick"], s["stepped"], s["actions"]) == (st["tick"], st["stepped"], st["actions"])
                assert _agents_now(r2.services.world) == _agents_now(t.services.world)
            c.close()
        ct.close()
