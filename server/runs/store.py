"""Named runs on one server: one database per run, beside the configured one.

The configured database (`db`) is the run named `main`. Another run `name` lives in its own
database: the SQLite file `<db stem>.runs/<name>.sqlite3` next to the configured file, or the
MySQL database `<db name>__<name>` on the same server. A checkpoint of run `name` at tick T is a
database of its own too, `<name>__c<T, 8 digits>`. A run's lineage is kept in its own `meta`
table under the key `run`: `{"parent": ..., "fork_tick": ..., "archived": ...}`.

A database per run keeps each tick's commit exactly as it was (no run key on any row, no wider
index), makes a fork a whole-database copy that needs no knowledge of the schema
(server/runs/backends.py), and makes deleting a run dropping one database, which cannot touch
another run's rows. A checkpoint holds the world only while its snapshot begins; the copy is made
in the background while the town ticks on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.settings import RunSettings
from server.errors import Conflict, InvalidRequest, NotFound
from server.runs.backends import HOME, Backend, CopySource, MySQLRuns, SQLiteRuns, copy_and_close

log = logging.getLogger(__name__)

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


class RunStore:
    """The runs of one server: list, fork, archive, delete, and checkpoints of the open run.

    Opening a run (switching the world's repository) is `server.runs.switch.open_run`; this
    class only knows databases. `current` names the open run.
    """

    def __init__(self, db_url: str, root: Path, settings: RunSettings) -> None:
        self.settings = settings
        self.current = HOME
        self.probes: list[Any] = []  # the open run's probes (server/runs/probes.py Probe)
        self._copying: asyncio.Task[None] | None = None  # the checkpoint being copied
        self.last_hold_s = 0.0  # how long the last checkpoint held the world (its snapshot's start)
        self.last_copy_s = 0.0  # how long its copy took, in the background
        if db_url.startswith("sqlite"):
            path = Path(db_url.split(":///", 1)[1]) if ":///" in db_url else Path("")
            if str(path) in ("", ":memory:"):
                raise ValueError("named runs need a database file, not an in-memory SQLite database")
            self.backend: Backend = SQLiteRuns(path if path.is_absolute() else root / path)
        else:
            self.backend = MySQLRuns(db_url)

    def url(self, name: str) -> str:
        """The database URL of run `name`."""
        return self.backend.url(name)

    async def _all(self, settle: bool = True) -> tuple[list[str], dict[str, list[int]]]:
        """The runs' names and each one's checkpoint ticks (after the checkpoint being copied)."""
        if settle:
            await self.settled()
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

        `lock` is the world's: the open run is copied as it was while the lock was held."""
        check_name(name)
        runs, ckpts = await self._all()
        if source not in runs:
            raise NotFound(f"no run {source!r}; runs: {', '.join(runs)}")
        if name in runs or name == HOME:
            raise Conflict(f"a run named {name!r} exists already")
        if tick is None:
            await self.backend.copy(source, name, lock if source == self.current else None)
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
        """Begin a checkpoint of the open run when `tick` is a multiple of `checkpoint_every`; the
        tick, or None. The world's `lock` is held only while the snapshot begins: the copy is made
        in the background (`settled` waits for it), then the oldest checkpoints beyond
        `keep_checkpoints` are dropped. A checkpoint still being copied when the next is due is
        waited for first."""
        every = self.settings.checkpoint_every
        if every <= 0 or tick % every:
            return None
        await self.settled()
        run, slot = self.current, checkpoint_slot(self.current, tick)
        snap = await self.backend.begun(run, lock)
        self.last_hold_s = self.backend.held_s
        self._copying = asyncio.create_task(self._keep(snap, run, slot, tick))
        return tick

    async def _keep(self, snap: CopySource, run: str, slot: str, tick: int) -> None:
        """Copy a begun checkpoint snapshot into its slot, then drop the oldest beyond the limit."""
        t0 = time.perf_counter()
        try:
            try:
                await self.backend.drop(slot)  # a reset run may pass the same tick again
            except BaseException:
                await asyncio.to_thread(snap.close)
                raise
            await asyncio.to_thread(copy_and_close, snap, slot)
        except Exception as e:  # the run goes on without this checkpoint
            log.warning("checkpoint of run %r at tick %d failed: %s: %s", run, tick, e.__class__.__name__, e)
            return
        self.last_copy_s = time.perf_counter() - t0
        log.info(
            "checkpoint of run %r at tick %d: world held %.1f ms, copied in %.0f ms",
            run,
            tick,
            self.last_hold_s * 1000,
            self.last_copy_s * 1000,
        )
        kept = (await self._all(settle=False))[1].get(run, [])
        for old in kept[: max(0, len(kept) - self.settings.keep_checkpoints)]:
            await self.backend.drop(checkpoint_slot(run, old))

    @property
    def copying(self) -> bool:
        """A checkpoint is being copied in the background."""
        return self._copying is not None and not self._copying.done()

    async def settled(self) -> None:
        """Wait for the checkpoint being copied, if any."""
        task = self._copying
        if task is not None and not task.done():
            await asyncio.wait({task})  # a caller cancelled here does not cancel the copy

    async def aclose(self) -> None:
        await self.settled()
        await self.backend.aclose()
