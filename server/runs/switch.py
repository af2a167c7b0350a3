"""Open a run: the server's world leaves its run's database for another run's and reloads the
town from it, between ticks and commands (it holds the tick lock and the world's lock)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from config.settings import ROOT
from server.context import Services
from server.db.repository import Repository
from server.errors import Conflict, Unavailable
from server.runs.hooks import load_probes
from server.runs.store import RunInfo, RunStore

log = logging.getLogger(__name__)


def store_of(services: Services) -> RunStore:
    """The server's run store; Unavailable for a town without one (an in-memory database)."""
    if services.runs is None:
        raise Unavailable("named runs need a database file or a MySQL database, not an in-memory one")
    return services.runs


def runs_changed(services: Services, change: str, name: str) -> None:
    """Tell subscribers the list of runs changed: a `runs` push naming the run and the change
    (`forked`, `archived`, `unarchived` or `deleted`). Opening a run sends `reset` instead."""
    services.hub.publish("runs", {"change": change, "name": name})


async def open_run(services: Services, name: str) -> RunInfo:
    """Switch the server to run `name` (refused when archived); subscribers get a `reset` push."""
    runs = store_of(services)
    info = await runs.info(name)
    if info.archived:
        raise Conflict(f"run {name!r} is archived: unarchive it (archive_run archived=false) to open it")
    if info.open:
        return info
    w = services.world
    async with services.tick_lock, w.lock:
        new = await Repository.open(runs.url(name), ROOT)
        old = w.repo
        w.repo = new
        try:
            await w.reload()
        except BaseException:
            w.repo = old
            await new.close()
            raise
        await old.close()
        runs.current = name
        services.frames.forget()
        await load_probes(services)
        services.models.drain()  # calls made outside any tick belong to the run left
    log.warning("run %r opened at tick %d (%d agents)", name, w.clock.tick, len(w.agents))
    services.hub.forget()  # clients reload the town on `reset`; the next delta is full
    services.hub.publish("reset", {"tick": w.clock.tick, "run": name})
    return await runs.info(name)


@contextlib.asynccontextmanager
async def run_repository(services: Services, name: str | None) -> AsyncIterator[Repository]:
    """The repository of run `name` (default: the open run's own), to read it; another run's is
    opened for the block and closed after it."""
    runs = services.runs
    if name is None or runs is None or name == runs.current:
        if name is not None and runs is None:
            store_of(services)  # raises: no named runs here
        yield services.world.repo
        return
    await runs.info(name)  # NotFound for an unknown run
    repo = await Repository.open(runs.url(name), ROOT)
    try:
        yield repo
    finally:
        await repo.close()
