"""Named runs on one server: one database per run, beside the configured one.

The configured database (`db`) is the run named `main`. Another run `name` lives in its own
database: the SQLite file `<db stem>.runs/<name>.sqlite3` next to the configured file, or the
MySQL database `<db name>__<name>` on the same server. A checkpoint of run `name` at tick T is a
database of its own too, `<name>__c<T, 8 digits>`. A run's lineage is kept in its own `meta`
table under the key `run`: `{"parent": ..., "fork_tick": ..., "archived": ...}`.

A database per run keeps each tick's commit exactly as it was (no run key on any row, no wider
index), makes a fork a whole-database copy (SQLite's backup API; MySQL `CREATE TABLE ... LIKE`
and `INSERT ... SELECT` in one transaction) that needs no knowledge of the schema, and makes
deleting a run dropping one database, which cannot touch another run's rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from config.settings import RunSettings
from server.db.repository import engine_url
from server.errors import Conflict, InvalidRequest, NotFound

log = logging.getLogger(__name__)

HOME = "main"
_NAME = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_CKPT = re.compile(r"^(?P<run>[a-z0-9]+(?:[-_][a-z0-9]+)*)__c(?P<tick>\d{8})$")
MAX_NAME = 32


def check_name(name: str) -> str:
    """`name` if it may name a new run, else InvalidRequest saying why."""
    if len(name) > MAX_NAME or not _NAME.match(name):
        raise InvalidRequest(
            f"run name {name!r}: use 1-{MAX_NAME} lower-case letters and digits, single - or _ between them"
        )
    return name


def checkpoint_slot(run: str, tick: int) -> str:
    """The database slot of run `run`'s checkpoint at `tick`."""
    return f"{run}__c{tick:08d}"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run as listed: its lineage, where it stands, and its kept checkpoints."""

    name: str
    parent: str | None
    fork_tick: int | None
    tick: int
    agents: int
    archived: bool
    open: bool
    checkpoints: tuple[int, ...]


class _Backend:
    """Where the databases of the runs live and how they are copied, read and dropped."""

    async def slots(self) -> list[str]:
        raise NotImplementedError

    def url(self, slot: str) -> str:
        raise NotImplementedError

    async def copy(self, src: str, dst: str) -> None:
        raise NotImplementedError

    async def drop(self, slot: str) -> None:
        raise NotImplementedError

    async def read(self, slot: str) -> tuple[dict[str, Any], int]:
        """The slot's meta (values decoded) and its number of agents."""
        raise NotImplementedError

    async def write_meta(self, slot: str, key: str, value: Any) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the backend holds."""


class _SQLiteRuns(_Backend):
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

    async def copy(self, src: str, dst: str) -> None:
        await asyncio.to_thread(self._copy, self.path(src), self.path(dst))

    @staticmethod
    def _copy(src: Path, dst: Path) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".part")
        tmp.unlink(missing_ok=True)
        source = sqlite3.connect(src)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)  # a consistent copy, even of a database in WAL mode
            finally:
                target.close()
        finally:
            source.close()
        os.replace(tmp, dst)  # whole or not at all: a half-made copy is never a run

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


class _MySQLRuns(_Backend):
    """One MySQL database per run, `<db>__<slot>`, on the configured server."""

    def __init__(self, url: str) -> None:
        self.base_url = url
        self.base = sa.engine.make_url(engine_url(url)).database or ""
        if not self.base:
            raise ValueError(f"{url}: a MySQL URL must name its database")
        self.engine: AsyncEngine = create_async_engine(engine_url(url), pool_size=1, max_overflow=2)

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

    async def copy(self, src: str, dst: str) -> None:
        s, d = self.db(src), self.db(dst)
        async with self.engine.connect() as c:
            tables = [
                str(r[0])
                for r in await c.execute(
                    sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                    {"s": s},
                )
            ]
            await c.exec_driver_sql(f"CREATE DATABASE `{d}` CHARACTER SET utf8mb4")
            try:
                for tb in tables:
                    await c.exec_driver_sql(f"CREATE TABLE `{d}`.`{tb}` LIKE `{s}`.`{tb}`")
                await c.commit()
                await c.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                for tb in tables:
                    await c.exec_driver_sql(f"INSERT INTO `{d}`.`{tb}` SELECT * FROM `{s}`.`{tb}`")
                await c.exec_driver_sql("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    await c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{d}`")
                raise

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


class RunStore:
    """The runs of one server: list, fork, archive, delete, and checkpoints of the open run.

    Opening a run (switching the world's repository) is `server.runs.switch.open_run`; this
    class only knows databases. `current` names the open run.
    """

    def __init__(self, db_url: str, root: Path, settings: RunSettings) -> None:
        self.settings = settings
        self.current = HOME
        self.probes: list[Any] = []  # the open run's probes (server/runs/probes.py Probe)
        if db_url.startswith("sqlite"):
            path = Path(db_url.split(":///", 1)[1]) if ":///" in db_url else Path("")
            if str(path) in ("", ":memory:"):
                raise ValueError("named runs need a database file, not an in-memory SQLite database")
            self.backend: _Backend = _SQLiteRuns(path if path.is_absolute() else root / path)
        else:
            self.backend = _MySQLRuns(db_url)

    def url(self, name: str) -> str:
        """The database URL of run `name`."""
        return self.backend.url(name)

    async def _all(self) -> tuple[list[str], dict[str, list[int]]]:
        runs: list[str] = []
        ckpts: dict[str, list[int]] = {}
        for slot in await self.backend.slots():
            m = _CKPT.match(slot)
            if m:
                ckpts.setdefault(m["run"], []).append(int(m["tick"]))
            elif slot == HOME or _NAME.match(slot):
                runs.append(slot)
        return runs, {k: sorted(v) for k, v in ckpts.items()}

    async def names(self) -> list[str]:
        """Every run's name, `main` first."""
        return (await self._all())[0]

    async def checkpoints(self, name: str) -> list[int]:
        """The ticks of run `name`'s kept checkpoints, oldest first."""
        return (await self._all())[1].get(name, [])

    async def info(self, name: str) -> RunInfo:
        """One run; NotFound when there is none of that name."""
        runs, ckpts = await self._all()
        if name not in runs:
            raise NotFound(f"no run {name!r}; runs: {', '.join(runs)}")
        return await self._info(name, ckpts.get(name, []))

    async def _info(self, name: str, ckpts: list[int]) -> RunInfo:
        meta, agents = await self.backend.read(name)
        lineage = meta.get("run") or {}
        return RunInfo(
            name=name,
            parent=lineage.get("parent"),
            fork_tick=lineage.get("fork_tick"),
            tick=int(meta.get("tick", 0)),
            agents=agents,
            archived=bool(lineage.get("archived", False)),
            open=name == self.current,
            checkpoints=tuple(ckpts),
        )

    async def runs(self, *, archived: bool = False) -> list[RunInfo]:
        """Every run (archived ones only when asked), `main` first."""
        runs, ckpts = await self._all()
        out = [await self._info(n, ckpts.get(n, [])) for n in runs]
        return [r for r in out if archived or not r.archived or r.open]

    async def lineage(self, name: str) -> list[RunInfo]:
        """Run `name`, its parent, its parent's parent ... (a deleted ancestor ends the chain)."""
        chain: list[RunInfo] = []
        runs, ckpts = await self._all()
        cur: str | None = name
        while cur is not None and cur in runs and all(r.name != cur for r in chain):
            info = await self._info(cur, ckpts.get(cur, []))
            chain.append(info)
            cur = info.parent
        return chain

    async def fork(self, source: str, name: str, *, tick: int | None, lock: asyncio.Lock) -> RunInfo:
        """Copy run `source` (as it is now, or its checkpoint at `tick`) into a new run `name`.

        `lock` is the world's: held while the open run is copied, so no commit lands midway."""
        check_name(name)
        runs, ckpts = await self._all()
        if source not in runs:
            raise NotFound(f"no run {source!r}; runs: {', '.join(runs)}")
        if name in runs or name == HOME:
            raise Conflict(f"a run named {name!r} exists already")
        if tick is None:
            async with lock:
                await self.backend.copy(source, name)
            meta, _ = await self.backend.read(name)
            fork_tick = int(meta.get("tick", 0))
        else:
            kept = ckpts.get(source, [])
            if tick not in kept:
                raise NotFound(
                    f"run {source!r} keeps no checkpoint at tick {tick}; kept: {kept or 'none'}"
                    + f" (one every {self.settings.checkpoint_every} ticks)"
                )
            await self.backend.copy(checkpoint_slot(source, tick), name)
            fork_tick = tick
        await self.backend.write_meta(
            name, "run", {"parent": source, "fork_tick": fork_tick, "archived": False}
        )
        log.info("run %r forked from %r at tick %d", name, source, fork_tick)
        return await self.info(name)

    async def lineage_meta(self, name: str) -> dict[str, Any] | None:
        """Run `name`'s stored lineage (`meta` key `run`), to put back after a `reset` wipes it."""
        meta, _ = await self.backend.read(name)
        lineage = meta.get("run")
        return dict(lineage) if isinstance(lineage, dict) else None

    async def archive(self, name: str, archived: bool) -> RunInfo:
        """Mark run `name` archived (kept, listed only on request, not opened) or not."""
        info = await self.info(name)
        if archived and info.open:
            raise Conflict(f"run {name!r} is open: open another run before archiving it")
        await self.backend.write_meta(
            name, "run", {"parent": info.parent, "fork_tick": info.fork_tick, "archived": archived}
        )
        return await self.info(name)

    async def delete(self, name: str) -> list[int]:
        """Drop run `name` and its checkpoints (never `main`, never the open run); the ticks of the
        checkpoints dropped."""
        info = await self.info(name)
        if name == HOME:
            raise Conflict("run 'main' is the configured database: it is never deleted")
        if info.open:
            raise Conflict(f"run {name!r} is open: open another run before deleting it")
        for t in info.checkpoints:
            await self.backend.drop(checkpoint_slot(name, t))
        await self.backend.drop(name)
        log.warning("run %r deleted (%d checkpoints)", name, len(info.checkpoints))
        return list(info.checkpoints)

    async def after_tick(self, tick: int, lock: asyncio.Lock) -> int | None:
        """Keep a checkpoint of the open run when `tick` is a multiple of `checkpoint_every`,
        dropping the oldest beyond `keep_checkpoints`; the tick kept, or None."""
        every = self.settings.checkpoint_every
        if every <= 0 or tick % every:
            return None
        slot = checkpoint_slot(self.current, tick)
        async with lock:
            await self.backend.drop(slot)  # a reset run may pass the same tick again
            await self.backend.copy(self.current, slot)
        kept = await self.checkpoints(self.current)
        for old in kept[: max(0, len(kept) - self.settings.keep_checkpoints)]:
            await self.backend.drop(checkpoint_slot(self.current, old))
        return tick

    async def aclose(self) -> None:
        await self.backend.aclose()
