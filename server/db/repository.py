"""The one repository: SQLite (aiosqlite) and MySQL (aiomysql) behind SQLAlchemy Core.

The world keeps the town in memory and hands the repository a `Changes` batch; `commit` writes
the whole batch in one transaction, so the database always holds the town as of the last commit.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from agent.interfaces import MemoryRecord
from server.db import schema as t
from server.db.bulk import Bulk, tuples
from server.errors import GameError, Unavailable
from server.records import Changes, Entry, StoredTown
from server.world.names import name_key

log = logging.getLogger(__name__)


def engine_url(url: str, root: Path | None = None) -> str:
    """Our `sqlite:///path` / `mysql://...` URLs as SQLAlchemy async URLs."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path in ("", ":memory:"):
            return "sqlite+aiosqlite:///:memory:"
        p = Path(path)
        if not p.is_absolute() and root is not None:
            p = root / p
        p.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{p}"
    if url.startswith("mysql://"):
        url = "mysql+aiomysql://" + url[len("mysql://") :]
    if "charset=" not in url:
        url += ("&" if "?" in url else "?") + "charset=utf8mb4"
    return url


def _disconnect(e: BaseException) -> bool:
    """A lost connection, as opposed to a bad statement. aiomysql reports a connection the server
    killed as OperationalError (2013) on the statement in flight and as InterfaceError ("Not
    connected") on the next one; SQLAlchemy recognises only the first as a disconnect."""
    if isinstance(e, OSError | ConnectionError):
        return True
    return isinstance(e, exc.DBAPIError) and (
        e.connection_invalidated or isinstance(e, exc.OperationalError | exc.InterfaceError)
    )


async def _connection_closed(conn: AsyncConnection) -> bool:
    """Whether the driver connection under `conn` is closed (the server dropped it)."""
    try:
        raw = await conn.get_raw_connection()
    except Exception:  # noqa: BLE001 - already unusable
        return True
    return bool(getattr(raw.driver_connection, "closed", False))


class Repository:
    """Loads and stores the town. Create with `await Repository.open(url)`; close with `close()`."""

    def __init__(self, engine: AsyncEngine, url: str, *, fast_literals: bool = True):
        self.engine = engine
        self.url = url
        self.fast_literals = fast_literals  # MySQL: quote batch values ourselves (mysql_literals.py)
        self.backend = engine.dialect.name  # "sqlite" | "mysql"
        # SQLite in a file: the WAL is checkpointed after commits, off the commit's path
        db = engine.url.database
        self._wal = (
            Path(f"{db}-wal") if self.backend == "sqlite" and db not in (None, "", ":memory:") else None
        )
        self._checkpoint: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, root: Path | None = None, *, fast_literals: bool = True) -> Repository:
        """Connect and create or migrate the schema. `fast_literals` (setting `db_fast_literals`)
        picks the MySQL batch writer: True, ours that quotes values itself and pipelines the
        statements; False, the driver's own parameter binding."""
        sa_url = engine_url(url, root)
        kw: dict[str, Any] = {"pool_pre_ping": True}
        if sa_url.startswith("mysql"):
            kw.update(pool_recycle=3600, pool_size=5, max_overflow=5)
            _aiomysql_bytes_compat()
        engine = create_async_engine(sa_url, **kw)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        repo = cls(engine, url, fast_literals=fast_literals)
        try:
            await repo._with_retry(repo._create)
        except BaseException:
            await engine.dispose()
            raise
        return repo

    async def _create(self, conn: AsyncConnection) -> None:
        await conn.run_sync(t.metadata.create_all)
        row = (await conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "schema_version"))).first()
        if row is None:
            await conn.execute(sa.insert(t.meta).values(key="schema_version", value=str(t.SCHEMA_VERSION)))
            return
        version = int(row[0])
        if version > t.SCHEMA_VERSION:
            raise RuntimeError(
                f"the database has schema version {version}; this server knows up to "
                f"{t.SCHEMA_VERSION}: upgrade the server"
            )
        if version < t.SCHEMA_VERSION:
            await _migrate(conn, version)
            await conn.execute(
                sa.update(t.meta).where(t.meta.c.key == "schema_version").values(value=str(t.SCHEMA_VERSION))
            )
            log.info("database schema migrated from version %d to %d", version, t.SCHEMA_VERSION)

    async def close(self) -> None:
        await self.checkpointed()
        await self.engine.dispose()

    async def checkpointed(self) -> None:
        """Wait for the SQLite checkpoint under way, if any (`close` does)."""
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)

    checkpoint_bytes = 4 * 1024 * 1024  # SQLite's own default: 1,000 pages of 4 KB

    def _start_checkpoint(self) -> None:
        """Copy the SQLite WAL into the database file in the background once it holds
        `checkpoint_bytes`, one run at a time.

        The connections do not checkpoint on commit (`wal_autocheckpoint=0`): SQLite's own
        checkpoint runs inside the commit that crosses 1,000 WAL pages, which put 15-30 ms on
        every other commit of a 1,000-agent tick. This PASSIVE checkpoint runs on another
        pooled connection, in its aiosqlite thread, while the town goes on; a commit during it
        appends to the WAL as usual. Once the WAL has been copied whole, the next commit starts
        it again from the beginning and truncates the file (`journal_size_limit=0`), so the
        file's size is what the WAL holds."""
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        try:
            if self._wal is None or self._wal.stat().st_size < self.checkpoint_bytes:
                return
        except FileNotFoundError:
            return
        self._checkpoint = asyncio.create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as e:  # noqa: BLE001 - the next commit starts another
            log.warning("SQLite checkpoint failed: %s: %s", e.__class__.__name__, e)

    async def _with_retry(self, work: Any, attempts: int = 3, applied: Any = None) -> Any:
        """Run `work(conn)` in one transaction; on a dropped connection, retry on a fresh one.

        A connection lost while committing leaves it unknown whether the transaction went
        through; `applied(conn)`, when given, is asked before each retry and True means it did
        (so a batch is never written twice). Raises `Unavailable` when every attempt failed."""
        delay = 0.1
        for attempt in range(1, attempts + 1):
            try:
                if attempt > 1 and applied is not None:
                    async with self.engine.connect() as conn:
                        if await applied(conn):
                            return None
                async with self.engine.begin() as conn:
                    try:
                        return await work(conn)
                    except exc.DBAPIError:
                        raise
                    except Exception as e:
                        # the driver can fail outside its own error classes on a connection
                        # that died mid-statement (aiomysql escaping on a closed socket)
                        if await _connection_closed(conn):
                            raise ConnectionError(f"connection lost: {e.__class__.__name__}: {e}") from e
                        raise
            except (exc.DBAPIError, OSError, ConnectionError) as e:
                if not _disconnect(e):
                    raise
                if attempt == attempts:
                    raise Unavailable(f"database unreachable: {e.__class__.__name__}") from e
                log.warning(
                    "database connection lost (%s); retrying (attempt %d)", e.__class__.__name__, attempt
                )
                await self.engine.dispose()
                await asyncio.sleep(delay)
                delay *= 4
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ write

    async def commit(self, ch: Changes) -> None:
        """Write a batch in one transaction (all or nothing)."""
        if ch.empty():
            return
        marker = uuid.uuid4().hex  # written with the batch: a retry checks it first
        ch.meta = {**ch.meta, "commit_id": marker}

        async def applied(conn: AsyncConnection) -> bool:
            row = (await conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "commit_id"))).first()
            return row is not None and json.loads(row[0]) == marker

        try:
            await self._with_retry(lambda conn: self._write(conn, ch), applied=applied)
        except exc.DataError as e:  # a value the columns cannot hold: refused, not an internal error
            raise Unstorable(f"the database refused a value, nothing was stored: {e.orig}") from e
        self._start_checkpoint()

    async def _write(self, conn: AsyncConnection, ch: Changes) -> None:
        bulk = await Bulk.open(conn, fast_literals=self.fast_literals)
        try:
            await self._write_rows(bulk, ch)
        except BaseException:
            await bulk.drain()  # nothing may be in flight when the transaction rolls back
            raise
        await bulk.flush()

    async def _write_rows(self, bulk: Bulk, ch: Changes) -> None:
        conn = bulk.conn
        if ch.meta:
            await _replace(
                bulk, t.meta, "key", [{"key": k, "value": json.dumps(v)} for k, v in ch.meta.items()]
            )
        if ch.agents_removed:
            await bulk.flush()
            await conn.execute(sa.delete(t.agents).where(t.agents.c.id.in_(ch.agents_removed)))
            await conn.execute(sa.delete(t.jobs).where(t.jobs.c.agent_id.in_(ch.agents_removed)))
        await _replace(bulk, t.agents, "id", [{**r, "name_key": _key(r["name"])} for r in ch.agents])
        await _replace(bulk, t.agent_ids, "id", list({r["id"]: r for r in ch.agent_ids}.values()))
        await _replace(bulk, t.buildings, "id", ch.buildings)
        await _replace(bulk, t.equipment, "id", ch.equipment)
        await _replace(bulk, t.tasks, "id", ch.tasks)
        if ch.jobs_removed:
            await bulk.flush()
            await conn.execute(sa.delete(t.jobs).where(t.jobs.c.agent_id.in_(ch.jobs_removed)))
        await _replace(bulk, t.jobs, "agent_id", ch.jobs)
        await _replace(bulk, t.conversations, "id", ch.conversations)
        await bulk.many(
            t.ledger,
            ("tick", "src", "dst", "amount", "reason"),
            [(e.tick, e.src, e.dst, e.amount, e.reason[:255]) for e in ch.ledger],
        )
        await bulk.many(
            t.memories,
            ("agent_id", "kind", "text", "tick", "importance", "subject", "embedding"),
            [
                (
                    m.agent_id,
                    m.kind,
                    m.text,
                    m.tick,
                    float(m.importance),
                    m.subject,
                    None if m.embedding is None else np.asarray(m.embedding, np.float32).tobytes(),
                )
                for m in ch.memories
            ],
        )
        await _insert_dicts(bulk, t.events, ch.events)
        await _insert_dicts(bulk, t.llm_calls, ch.llm_calls)
        if ch.tick_row is not None:
            row = dict(ch.tick_row)
            frame = row.pop("frame", None)  # the tick's replay frame (server/runs/replay.py)
            row["summary"] = json.dumps(row["summary"])
            await _replace(bulk, t.ticks, "tick", [row])
            if frame is not None:
                await bulk.many(t.frames, ("tick", "data"), [(row["tick"], frame)], upsert_key="tick")

    # ------------------------------------------------------------------- read

    async def load(self) -> StoredTown:
        """The whole town as of the last commit (one transaction, retried on a lost connection)."""
        snap: StoredTown = await self._with_retry(self._load)
        return snap

    async def _load(self, conn: AsyncConnection) -> StoredTown:
        meta = {
            r.key: json.loads(r.value)
            for r in await conn.execute(sa.select(t.meta))
            if r.key != "schema_version"
        }
        agents = [dict(r._mapping) for r in await conn.execute(sa.select(t.agents).order_by(t.agents.c.id))]
        buildings = [
            dict(r._mapping) for r in await conn.execute(sa.select(t.buildings).order_by(t.buildings.c.seq))
        ]
        equipment = [
            dict(r._mapping) for r in await conn.execute(sa.select(t.equipment).order_by(t.equipment.c.id))
        ]
        balances: dict[str, int] = {}
        for r in await conn.execute(
            sa.select(t.ledger.c.dst, sa.func.sum(t.ledger.c.amount)).group_by(t.ledger.c.dst)
        ):
            balances[r[0]] = balances.get(r[0], 0) + int(r[1])
        for r in await conn.execute(
            sa.select(t.ledger.c.src, sa.func.sum(t.ledger.c.amount)).group_by(t.ledger.c.src)
        ):
            balances[r[0]] = balances.get(r[0], 0) - int(r[1])
        memories = [
            MemoryRecord(
                agent_id=r.agent_id,
                kind=r.kind,
                text=r.text,
                tick=r.tick,
                importance=r.importance,
                subject=r.subject,
                id=r.id,
                embedding=None
                if r.embedding is None
                else np.frombuffer(r.embedding, dtype=np.float32).copy(),
            )
            for r in await conn.execute(sa.select(t.memories).order_by(t.memories.c.id))
        ]
        tasks = [dict(r._mapping) for r in await conn.execute(sa.select(t.tasks).order_by(t.tasks.c.id))]
        jobs = [dict(r._mapping) for r in await conn.execute(sa.select(t.jobs).order_by(t.jobs.c.agent_id))]
        ids = {r[0] for r in await conn.execute(sa.select(t.agent_ids.c.id))}
        open_talks = [
            dict(r._mapping)
            for r in await conn.execute(
                sa.select(t.conversations)
                .where(t.conversations.c.ended_tick.is_(None))
                .order_by(t.conversations.c.id)
            )
        ]
        return StoredTown(
            meta,
            agents,
            buildings,
            equipment,
            balances,
            memories,
            tasks,
            jobs,
            agent_ids=ids,
            conversations=open_talks,
        )

    async def ledger_entries(self, account: str | None = None, last: int | None = None) -> list[Entry]:
        """Ledger entries, oldest first; those touching `account` when given; only the `last` N
        when given."""
        q = sa.select(t.ledger).order_by(t.ledger.c.id.desc() if last else t.ledger.c.id)
        if last:
            q = q.limit(last)
        if account is not None:
            q = q.where(sa.or_(t.ledger.c.src == account, t.ledger.c.dst == account))
        async with self.engine.connect() as conn:
            rows = [Entry(r.tick, r.src, r.dst, r.amount, r.reason) for r in await conn.execute(q)]
        return rows[::-1] if last else rows

    async def chats_of(self, agent_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The agent's latest chat lines (with agents or players, said or heard), oldest first."""
        e = t.events
        q = (
            sa.select(e.c.tick, e.c.kind, e.c.agent_id, e.c.other_id, e.c.text)
            .where(
                e.c.kind.in_(("chat", "player_chat")),
                sa.or_(e.c.agent_id == agent_id, e.c.other_id == agent_id),
            )
            .order_by(e.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(q)][::-1]

    async def rows(
        self,
        table: str,
        *,
        where: dict[str, Any] | None = None,
        order: str = "id",
        limit: int = 100_000,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Plain rows of a table (reports, inspection); only `columns` when given."""
        tb = t.metadata.tables[table]
        q = (
            (sa.select(*(tb.c[c] for c in columns)) if columns else sa.select(tb))
            .order_by(tb.c[order])
            .limit(limit)
        )
        for k, v in (where or {}).items():
            q = q.where(tb.c[k] == v)
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(q)]

    async def rows_after(
        self, wanted: Mapping[str, tuple[str, Any, Sequence[str]]], limit: int
    ) -> dict[str, list[dict[str, Any]]]:
        """For each table: its first `limit` rows whose `order` column is above `after`, in that
        order, only `columns` (`wanted`: table -> (order, after, columns)). All are read in one
        transaction, so they are one consistent snapshot of the database."""
        out: dict[str, list[dict[str, Any]]] = {}
        async with self.engine.connect() as conn:
            for table, (order, after, columns) in wanted.items():
                tb = t.metadata.tables[table]
                q = (
                    sa.select(*(tb.c[c] for c in columns))
                    .where(tb.c[order] > after)
                    .order_by(tb.c[order])
                    .limit(limit)
                )
                out[table] = [dict(r._mapping) for r in await conn.execute(q)]
        return out

    async def llm_usage(self) -> list[dict[str, Any]]:
        """Metered calls summed in the database per (kind, agent_id): calls, failed, tokens,
        cost_usd. A long run has millions of llm_calls rows; the report needs only these sums."""
        c = t.llm_calls.c
        q = (
            sa.select(
                c.kind,
                c.agent_id,
                sa.func.count().label("calls"),
                sa.func.sum(sa.case((c.ok, 0), else_=1)).label("failed"),
                sa.func.sum(c.prompt_tokens + c.completion_tokens).label("tokens"),
                sa.func.sum(c.cost_usd).label("cost_usd"),
            )
            .group_by(c.kind, c.agent_id)
            .order_by(c.kind, c.agent_id)
        )
        async with self.engine.connect() as conn:
            return [
                {
                    "kind": r.kind,
                    "agent_id": r.agent_id,
                    "calls": int(r.calls),
                    "failed": int(r.failed or 0),
                    "tokens": int(r.tokens or 0),
                    "cost_usd": float(r.cost_usd or 0),
                }
                for r in await conn.execute(q)
            ]

    async def chat_pairs(self) -> tuple[int, list[tuple[str, str, int]]]:
        """Agent-to-agent chat lines: the number of chat events, and (speaker, listener, lines)."""
        e = t.events.c
        q = (
            sa.select(e.agent_id, e.other_id, sa.func.count().label("n"))
            .where(e.kind == "chat")
            .group_by(e.agent_id, e.other_id)
        )
        async with self.engine.connect() as conn:
            groups = [(r.agent_id, r.other_id, int(r.n)) for r in await conn.execute(q)]
        return sum(n for _, _, n in groups), [(a, b, n) for a, b, n in groups if a and b]

    async def conversation_pairs(self) -> list[tuple[str, str, int]]:
        """Agent-to-agent conversations: (initiator, partner, conversations), from the chat
        lines' conversation ids."""
        e = t.events.c
        q = (
            sa.select(e.agent_id, e.other_id, e.conversation_id)
            .where(e.kind == "chat", e.conversation_id.is_not(None))
            .group_by(e.conversation_id, e.agent_id, e.other_id)
        )
        seen: dict[str, tuple[str, str]] = {}
        async with self.engine.connect() as conn:
            for r in await conn.execute(q):
                if r.agent_id and r.other_id:
                    seen.setdefault(r.conversation_id, tuple(sorted((r.agent_id, r.other_id))))  # type: ignore[arg-type]
        counts: dict[tuple[str, str], int] = {}
        for pair in seen.values():
            counts[pair] = counts.get(pair, 0) + 1
        return [(a, b, n) for (a, b), n in sorted(counts.items())]

    async def count(self, table: str) -> int:
        tb = t.metadata.tables[table]
        async with self.engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(tb))).scalar_one())

    async def wipe(self) -> None:
        """Delete the whole town (admin reset). Claimed player names are kept."""

        async def work(conn: AsyncConnection) -> None:
            for tb in reversed(t.metadata.sorted_tables):
                if tb is t.players:
                    continue
                if tb is t.meta:
                    await conn.execute(sa.delete(tb).where(tb.c.key != "schema_version"))
                else:
                    await conn.execute(sa.delete(tb))

        await self._with_retry(work)

    # ---------------------------------------------------------------- players

    async def player(self, key: str) -> dict[str, Any] | None:
        """The claim of the player whose name has `key`, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t.players).where(t.players.c.key == key))).first()
        return None if row is None else dict(row._mapping)

    async def claim_player(self, key: str, name: str, secret_hash: str, tick: int) -> bool:
        """Claim a player name; False when it is claimed already (by a concurrent login)."""

        async def work(conn: AsyncConnection) -> bool:
            if (await conn.execute(sa.select(t.players.c.key).where(t.players.c.key == key))).first():
                return False
            await conn.execute(
                sa.insert(t.players).values(key=key, name=name, secret_hash=secret_hash, created_tick=tick)
            )
            return True

        try:
            return bool(await self._with_retry(work))
        except exc.IntegrityError:
            return False


@functools.lru_cache(maxsize=65536)
def _key(name: str) -> str:
    """`name_key`, cached: every changed agent's row carries it, every tick."""
    return name_key(name)


class Unstorable(GameError):
    """The database refused a value (a text its columns cannot hold); nothing was stored."""

    code = "unstorable"


async def _migrate(conn: AsyncConnection, version: int) -> None:
    """Bring a database of an older schema version up to date, in the transaction of `_create`."""
    if version < 2:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in sa.inspect(c).get_columns("llm_calls")}
        )
        if "cost_usd" not in columns:
            kind = "DOUBLE" if conn.dialect.name == "mysql" else "FLOAT"
            await conn.exec_driver_sql(f"ALTER TABLE llm_calls ADD COLUMN cost_usd {kind} NOT NULL DEFAULT 0")
    if version < 3:
        for table, column in t.DROPPED_INDEXES:
            indexes = await conn.run_sync(_indexes_of, table)
            for ix in indexes:
                if ix["column_names"] == [column] and not ix.get("unique") and ix["name"]:
                    on = f" ON {table}" if conn.dialect.name == "mysql" else ""
                    await conn.exec_driver_sql(f"DROP INDEX {ix['name']}{on}")
    if version < 5:
        await _migrate_conversations(conn)
    if version < 6:
        await _migrate_identity(conn)


async def _migrate_conversations(conn: AsyncConnection) -> None:
    """Schema 5 (the agents' day): events.conversation_id and llm_calls.prefix_tokens (the
    conversations table itself is made by `create_all`)."""
    for table, column, kind in (
        ("events", "conversation_id", "VARCHAR(64) NULL"),
        ("llm_calls", "prefix_tokens", "INTEGER NOT NULL DEFAULT 0"),
    ):
        columns = await conn.run_sync(_columns_of, table)
        if column not in columns:
            await conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _columns_of(sync_conn: Any, table: str) -> set[str]:
    return {col["name"] for col in sa.inspect(sync_conn).get_columns(table)}


async def _migrate_identity(conn: AsyncConnection) -> None:
    """Schema 5 (issue 13): what "the same name" and "the same id" mean, in the database too.

    On MySQL every table is converted to utf8mb4 with the binary collation (tables made before
    took the server's default: latin1 refused emoji, utf8mb4_general_ci saw "Café" and "Cafe" as
    one key). `agents.name_key` is added, filled and made unique (a name whose key clashes with
    an earlier agent's gets the agent id appended to its key, so the migration never fails); the
    old unique index on `agents.name` stays, now binary, and is implied by the new one. The
    `agent_ids` table (made by `create_all`) is filled with every agent id the history names."""
    mysql_db = conn.dialect.name == "mysql"
    if mysql_db:
        for tb in t.metadata.sorted_tables:
            await conn.exec_driver_sql(
                f"ALTER TABLE `{tb.name}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
    columns = await conn.run_sync(lambda c: {col["name"] for col in sa.inspect(c).get_columns("agents")})
    if "name_key" not in columns:
        kind = "VARCHAR(64) COLLATE utf8mb4_bin" if mysql_db else "VARCHAR(64)"
        await conn.exec_driver_sql(f"ALTER TABLE agents ADD COLUMN name_key {kind} NOT NULL DEFAULT ''")
        seen: set[str] = set()
        for aid, name in (
            await conn.execute(sa.select(t.agents.c.id, t.agents.c.name).order_by(t.agents.c.id))
        ).all():
            key = name_key(name)[:64]
            if key in seen:
                key = f"{key[:30]}#{aid}"[:64]
            seen.add(key)
            await conn.execute(sa.update(t.agents).where(t.agents.c.id == aid).values(name_key=key))
        await conn.exec_driver_sql("CREATE UNIQUE INDEX ix_agents_name_key ON agents (name_key)")
    ids: set[str] = set()
    for col in (t.agents.c.id, t.memories.c.agent_id, t.events.c.agent_id, t.events.c.other_id):
        ids.update(r[0] for r in await conn.execute(sa.select(col).distinct()) if r[0])
    for col in (t.ledger.c.src, t.ledger.c.dst):
        ids.update(
            r[0][6:] for r in await conn.execute(sa.select(col).distinct()) if r[0].startswith("agent:")
        )
    live = {r[0] for r in await conn.execute(sa.select(t.agents.c.id))}
    ids -= {r[0] for r in await conn.execute(sa.select(t.agent_ids.c.id))}
    if ids:
        await conn.execute(
            sa.insert(t.agent_ids),
            [{"id": i, "created_tick": 0, "removed_tick": None if i in live else 0} for i in sorted(ids)],
        )


def _indexes_of(sync_conn: Any, table: str) -> list[Any]:
    return list(sa.inspect(sync_conn).get_indexes(table))


async def _replace(bulk: Bulk, table: sa.Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert by primary key `key` in one statement (see `_compiled`). Every row carries the same
    columns."""
    if rows:
        cols = tuple(rows[0])
        await bulk.many(table, cols, tuples(rows, cols), upsert_key=key)


async def _insert_dicts(bulk: Bulk, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows given as dicts with the same keys."""
    if rows:
        cols = tuple(rows[0])
        await bulk.many(table, cols, tuples(rows, cols))


def _aiomysql_bytes_compat() -> None:
    """aiomysql 0.3 escapes bytes (memory embeddings) with `pymysql.converters.escape_bytes_prefixed`,
    which PyMySQL 1.2 replaced by a string: every insert of a BLOB failed with "'str' object is not
    callable". Give aiomysql a working one (a hex literal) when it lacks it."""
    import aiomysql.connection

    if not callable(getattr(aiomysql.connection, "escape_bytes_prefixed", None)):
        aiomysql.connection.escape_bytes_prefixed = lambda value: "X'" + value.hex() + "'"  # type: ignore[attr-defined]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA wal_autocheckpoint=0")  # Repository._start_checkpoint does it, off the commit
    cur.execute("PRAGMA journal_size_limit=0")  # a restarted WAL is truncated: its size is its content
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
