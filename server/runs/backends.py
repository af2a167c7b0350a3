"""Where the databases of the runs live, and how one is copied, read and dropped.

SQLite keeps a run in a file, MySQL in a database (server/runs/store.py says why). A copy is
whole or not at all: it is made under a name no listing matches (`<file>.part`, the database
`<slot>__part`) and takes the run's name only when complete.

A copy of the open run (a checkpoint, a fork "now") is taken from a snapshot: the world's lock
is held only while the snapshot begins (a read transaction: SQLite in WAL mode and InnoDB's
consistent snapshot both keep showing the database as it was then while later ticks commit), and
the copying itself runs in a thread while the town goes on. `bench checkpoint` measures both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.db.repository import engine_url
from server.errors import Conflict

HOME = "main"
ROWS_PER_BATCH = 2000  # rows a streamed MySQL copy moves per statement


class CopySource:
    """The source of a copy, frozen when `begin` returns; `copy_to` and `close` may block."""

    def begin(self) -> None:
        raise NotImplementedError

    def copy_to(self, dst: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def copy_and_close(snap: CopySource, dst: str) -> None:
    """Copy a begun snapshot into `dst`, then close it: one call for one thread, so a caller
    cancelled meanwhile never closes the snapshot under the copy."""
    try:
        snap.copy_to(dst)
    finally:
        snap.close()


class Backend:
    """Where the databases of the runs live and how they are copied, read and dropped."""

    held_s = 0.0  # how long the last snapshot begun under a lock held it

    async def slots(self) -> list[str]:
        raise NotImplementedError

    def url(self, slot: str) -> str:
        raise NotImplementedError

    def copy_source(self, src: str, live: bool) -> CopySource:
        """A connection to `src` ready to `begin` a snapshot (blocking: call it in a thread);
        `live`: something writes `src` meanwhile."""
        raise NotImplementedError

    async def begun(self, src: str, lock: asyncio.Lock | None = None) -> CopySource:
        """A snapshot of slot `src`, begun (under `lock`, the world's, when `src` is the open
        run: the snapshot shows `src` as it was while the lock was held, and the lock is held
        for nothing else). The caller copies and closes it (`copy_and_close`)."""
        snap = await asyncio.to_thread(self.copy_source, src, lock is not None)
        try:
            if lock is None:
                await asyncio.to_thread(snap.begin)
            else:
                async with lock:
                    t0 = time.perf_counter()
                    await asyncio.to_thread(snap.begin)
                    self.held_s = time.perf_counter() - t0
        except BaseException:
            await asyncio.to_thread(snap.close)
            raise
        return snap

    async def copy(self, src: str, dst: str, lock: asyncio.Lock | None = None) -> None:
        """Copy slot `src` into the new slot `dst`, as it was when `begun` (with `lock`) began."""
        await asyncio.to_thread(copy_and_close, await self.begun(src, lock), dst)

    async def drop(self, slot: str) -> None:
        raise NotImplementedError

    async def read(self, slot: str) -> tuple[dict[str, Any], int]:
        """The slot's meta (values decoded) and its number of agents."""
        raise NotImplementedError

    async def write_meta(self, slot: str, key: str, value: Any) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the backend holds."""


class _SQLiteSource(CopySource):
    """A read transaction on the source file; SQLite's backup API copies what it shows."""

    def __init__(self, runs: SQLiteRuns, src: Path) -> None:
        self.runs = runs
        self.conn = sqlite3.connect(src, timeout=30, isolation_level=None, check_same_thread=False)

    def begin(self) -> None:
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here

    def copy_to(self, dst: str) -> None:
        path = self.runs.path(dst)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.unlink(missing_ok=True)
        target = sqlite3.connect(tmp)
        try:
            # in one step, inside the read transaction begun above: the source as it was then
            self.conn.backup(target)
        finally:
            target.close()
        os.replace(tmp, path)  # whole or not at all: a half-made copy is never a run

    def close(self) -> None:
        self.conn.close()


class SQLiteRuns(Backend):
    """One SQLite file per run, in a directory beside the configured file."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = home.with_name(home.stem + ".runs")

    def path(self, slot: str) -> Path:
        return self.home if slot == HOME else self.dir / f"{slot}.sqlite3"

    def url(self, slot: str) -> str:
        return f"sqlite:///{self.path(slot)}"

    async def slots(self) -> list[str]:
        found = sorted(p.stem for p in self.dir.glob("*.sqlite3")) if self.dir.is_dir() else []
        return [HOME, *found]

    def copy_source(self, src: str, live: bool) -> CopySource:
        return _SQLiteSource(self, self.path(src))

    async def drop(self, slot: str) -> None:
        p = self.path(slot)
        for f in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")):
            f.unlink(missing_ok=True)

    async def read(self, slot: str) -> tuple[dict[str, Any], int]:
        return await asyncio.to_thread(self._read, self.path(slot))

    @staticmethod
    def _read(path: Path) -> tuple[dict[str, Any], int]:
        if not path.exists():
            return {}, 0
        c = sqlite3.connect(path)
        try:
            meta = {k: json.loads(v) for k, v in c.execute("SELECT key, value FROM meta")}
            agents = int(c.execute("SELECT count(*) FROM agents").fetchone()[0])
        except sqlite3.OperationalError:  # not a town database (yet)
            return {}, 0
        finally:
            c.close()
        return meta, agents

    async def write_meta(self, slot: str, key: str, value: Any) -> None:
        await asyncio.to_thread(self._write_meta, self.path(slot), key, json.dumps(value))

    @staticmethod
    def _write_meta(path: Path, key: str, value: str) -> None:
        c = sqlite3.connect(path, timeout=30)
        try:
            with c:
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
        finally:
            c.close()


class _MySQLSource(CopySource):
    """An InnoDB consistent snapshot on the source database, read row by row (plain SELECTs are
    non-locking reads of the snapshot) and written into the copy over a second connection.

    `INSERT ... SELECT` would copy on the server, but its SELECT is a locking read at REPEATABLE
    READ: it reads the newest rows, not the snapshot, and holds the world's next commit until it
    ends. A copy of a run nobody writes (a checkpoint) takes that faster way (`_MySQLPlain`)."""

    def __init__(self, runs: MySQLRuns, src: str) -> None:
        self.runs = runs
        self.src = runs.db(src)
        self.read = runs.raw()

    def begin(self) -> None:
        with self.read.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")

    @property
    def tables(self) -> list[str]:
        """The source's tables (read after `begin`, inside the snapshot)."""
        return self.runs.tables_of(self.read, self.src)

    def copy_to(self, dst: str) -> None:
        write = self.runs.raw()
        tables = self.tables
        try:
            final, part = self.runs.make_part(write, self.src, dst, tables)
            try:
                with write.cursor() as w:
                    w.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
                    for tb in tables:
                        self.fill(w, part, tb)
                write.commit()
                self.runs.publish_part(write, part, final, tables)
            except BaseException:
                self.runs.drop_db(write, part)
                raise
        finally:
            write.close()

    def fill(self, w: Any, part: str, tb: str) -> None:
        """Copy table `tb` of the snapshot into database `part` over the cursor `w`."""
        import pymysql.cursors

        with self.read.cursor(pymysql.cursors.SSCursor) as r:
            r.execute(f"SELECT * FROM `{self.src}`.`{tb}`")
            marks = ", ".join(["%s"] * len(r.description or ()))
            sql = f"INSERT INTO `{part}`.`{tb}` VALUES ({marks})"
            while rows := r.fetchmany(ROWS_PER_BATCH):
                w.executemany(sql, rows)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.read.rollback()
        self.read.close()


class _MySQLPlain(_MySQLSource):
    """A copy made on the server (`INSERT ... SELECT`), for a source no one writes."""

    def begin(self) -> None:
        pass

    def fill(self, w: Any, part: str, tb: str) -> None:
        w.execute(f"INSERT INTO `{part}`.`{tb}` SELECT * FROM `{self.src}`.`{tb}`")


class MySQLRuns(Backend):
    """One MySQL database per run, `<db>__<slot>`, on the configured server."""

    def __init__(self, url: str) -> None:
        self.base_url = url
        self.base = sa.engine.make_url(engine_url(url)).database or ""
        if not self.base:
            raise ValueError(f"{url}: a MySQL URL must name its database")
        self.engine: AsyncEngine = create_async_engine(engine_url(url), pool_size=1, max_overflow=2)
        # how PyMySQL connects, for the copies' blocking connections (made in threads)
        sync = sa.engine.make_url(engine_url(url)).set(drivername="mysql+pymysql")
        self.connect_args = sync.get_dialect()().create_connect_args(sync)

    def db(self, slot: str) -> str:
        return self.base if slot == HOME else f"{self.base}__{slot}"

    def url(self, slot: str) -> str:
        head, _, tail = self.base_url.partition("?")
        head = head.rsplit("/", 1)[0] + "/" + self.db(slot)
        return head + (f"?{tail}" if tail else "")

    async def slots(self) -> list[str]:
        prefix = self.base + "__"
        async with self.engine.connect() as c:
            rows = await c.execute(sa.text("SELECT schema_name FROM information_schema.schemata"))
            names = [str(r[0]) for r in rows]
        return [HOME, *sorted(n[len(prefix) :] for n in names if n.startswith(prefix))]

    # -- the blocking side, for the copies (in threads) --

    def raw(self) -> Any:
        """A PyMySQL connection, autocommit off."""
        import pymysql

        args, kwargs = self.connect_args
        return pymysql.connect(*args, **kwargs, autocommit=False)

    @staticmethod
    def tables_of(conn: Any, db: str) -> list[str]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
                (db,),
            )
            return [str(r[0]) for r in cur.fetchall()]

    def make_part(self, conn: Any, src: str, dst: str, tables: list[str]) -> tuple[str, str]:
        """The copy's final database name and the `__part` one it is made in, with `src`'s tables."""
        final = self.db(dst)
        part = f"{final}__part"
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{part}`")  # left by a copy that was cut short
            cur.execute(f"CREATE DATABASE `{part}` CHARACTER SET utf8mb4")
            for tb in tables:
                cur.execute(f"CREATE TABLE `{part}`.`{tb}` LIKE `{src}`.`{tb}`")
        return final, part

    @staticmethod
    def publish_part(conn: Any, part: str, final: str, tables: list[str]) -> None:
        """Move the finished copy's tables to their run's name in one RENAME (all or none)."""
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{final}` CHARACTER SET utf8mb4")
            if tables:
                cur.execute(
                    "RENAME TABLE " + ", ".join(f"`{part}`.`{tb}` TO `{final}`.`{tb}`" for tb in tables)
                )
            cur.execute(f"DROP DATABASE `{part}`")

    @staticmethod
    def drop_db(conn: Any, db: str) -> None:
        with contextlib.suppress(Exception), conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")

    def copy_source(self, src: str, live: bool) -> CopySource:
        return _MySQLSource(self, src) if live else _MySQLPlain(self, src)

    async def drop(self, slot: str) -> None:
        if slot == HOME:
            raise Conflict("the configured database is never dropped")
        async with self.engine.connect() as c:
            await c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{self.db(slot)}`")

    async def read(self, slot: str) -> tuple[dict[str, Any], int]:
        db = self.db(slot)
        try:
            async with self.engine.connect() as c:
                rows: Any = await c.exec_driver_sql(f"SELECT `key`, `value` FROM `{db}`.`meta`")
                meta = {str(r[0]): json.loads(r[1]) for r in rows}
                agents = (await c.exec_driver_sql(f"SELECT count(*) FROM `{db}`.`agents`")).scalar_one()
        except sa.exc.DBAPIError:  # not a town database (yet)
            return {}, 0
        return meta, int(agents)

    async def write_meta(self, slot: str, key: str, value: Any) -> None:
        async with self.engine.begin() as c:
            await c.exec_driver_sql(
                f"INSERT INTO `{self.db(slot)}`.`meta` (`key`, `value`) VALUES (%s, %s) "
                "ON DUPLICATE KEY UPDATE `value` = VALUES(`value`)",
                (key, json.dumps(value)),
            )

    async def aclose(self) -> None:
        await self.engine.dispose()
