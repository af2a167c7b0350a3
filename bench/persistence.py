"""One tick's writes for 1000 agents through `Repository.commit` (one transaction), on SQLite and
on MySQL (MariaDB at 127.0.0.1:3306, root, no password; a scratch database is created and dropped).

A tick's batch: 1000 agent rows (as `AgentRecord.to_row` makes them, each with a 40-step walking
path in its data), 1000 ledger entries, 1000 memories with a 256-float embedding, 200 events, 3000
llm_calls rows and the tick row. The agents are founded first (not timed); then several ticks
are committed and timed. `client_cpu_ms` is this process's CPU time during a commit (for SQLite
that includes the database's own work, which runs in aiosqlite's thread).

The MySQL figure's baseline, `server_alone_median_ms`, is measured in the same run: each tick's
statements, built by the same code but not sent, go to a twin database over plain PyMySQL one after
another with nothing else to do, then commit. It is the time MariaDB itself takes for the tick.

`real_ticks` checks the synthetic batch against the town itself: a 1000-agent town (`stream`
memory, scripted model) started with `run_town` on each backend and ticked over the websocket;
the commit's time is the `commit` phase each `tick` answer reports, and the rows are what the
ticks added to the log tables. (A real tick writes fewer rows than the batch above: agents on
the offline model think in turns, and only agents that changed are rewritten.)
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench._common import ADMIN, emit, main_async, scratch, settings

MYSQL = "mysql://root@127.0.0.1:3306"


def _batch(agents: list[Any], tick: int, embed: bool = True) -> Any:
    from agent.interfaces import MemoryRecord
    from server.records import Changes, Entry

    rng = np.random.default_rng(tick)
    vecs = rng.standard_normal((len(agents), 256)).astype(np.float32)
    for a in agents:
        a.x, a.y = (a.x + 1) % 48, a.y
        a.path = [
            (a.x + (k + 1) // 2, a.y + k // 2) for k in range(1, 41)
        ]  # steps to neighbours, as A* makes
    return Changes(
        meta={"tick": tick},
        agents=[a.to_row() for a in agents],
        ledger=[Entry(tick, f"agent:{a.id}", "town", 1, "coffee at the cafe") for a in agents],
        memories=[
            MemoryRecord(
                a.id,
                "observation",
                f"{a.name} saw a friend at the park on tick {tick}",
                tick,
                importance=4.0,
                embedding=vecs[i] if embed else None,
            )
            for i, a in enumerate(agents)
        ],
        events=[
            {
                "tick": tick,
                "kind": "chat",
                "agent_id": a.id,
                "other_id": agents[0].id,
                "text": "Hello there, neighbour.",
            }
            for a in agents[:200]
        ],
        llm_calls=[
            {
                "tick": tick,
                "agent_id": a.id,
                "kind": k,
                "model": "fake",
                "prompt_tokens": 400,
                "completion_tokens": 30,
                "latency_ms": 210.0,
                "ok": True,
                "cached": False,
            }
            for a in agents
            for k in ("qa_ask", "qa_answer", "qa_choose")
        ],
        tick_row={
            "tick": tick,
            "game_seconds": tick * 10,
            "summary": {"stepped": len(agents), "llm_calls": 3000},
        },
    )


class _Recorder:
    """Stands in for the aiomysql connection under `_PipelinedMySQL`: keeps each statement the
    commit would send, unsent."""

    def __init__(self, driver: Any) -> None:
        self.encoding, self.server_status, self.escape = driver.encoding, driver.server_status, driver.escape
        self.sql: list[bytes] = []

    async def query(self, sql: bytes) -> None:
        self.sql.append(sql)


async def _statements(repo: Any, ch: Any) -> list[bytes]:
    """The statements `repo.commit(ch)` sends to MySQL, built by the same code."""
    from server.db.mysql_literals import PipelinedMySQL

    async with repo.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        recorder = _Recorder(raw.driver_connection)
        bulk = PipelinedMySQL(conn, recorder)
        await repo._write_rows(bulk, ch)
        await bulk.flush()
    return recorder.sql


class _ServerAlone:
    """The baseline of the MySQL figure, in the same run: a twin database (a copy of the founded
    town) that gets each tick's statements, made beforehand, sent one after another over plain
    blocking PyMySQL and committed: what MariaDB itself takes for the tick, with no client work
    in between."""

    def __init__(self, source: str, twin: str) -> None:
        import pymysql

        from server.db import schema

        self.conn = pymysql.connect(
            host="127.0.0.1",
            port=3306,
            user="root",
            password="",
            database=twin,
            charset="utf8mb4",
            autocommit=False,
        )
        with self.conn.cursor() as cur:
            for tb in schema.metadata.sorted_tables:
                cur.execute(f"CREATE TABLE `{tb.name}` LIKE `{source}`.`{tb.name}`")
                cur.execute(f"INSERT INTO `{tb.name}` SELECT * FROM `{source}`.`{tb.name}`")
        self.conn.commit()

    def run(self, statements: list[bytes]) -> float:
        t0 = time.perf_counter()
        with self.conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql.decode(self.conn.encoding, "surrogateescape"))
        self.conn.commit()
        return time.perf_counter() - t0

    def close(self) -> None:
        self.conn.close()


async def _backend(
    url: str, n: int, ticks: int, embed: bool = True, twin: str | None = None
) -> dict[str, Any]:
    """Found `n` agents and time `ticks` commits; with `twin` (a MySQL database name), also the
    server-alone baseline of each tick."""
    from agent.registry import plugin_registry
    from config.settings import ROOT
    from server.db.repository import Repository
    from server.world import population
    from server.world.town import TownFiles
    from server.world.world import World

    repo = await Repository.open(url, ROOT)
    try:
        world = World(
            TownFiles(ROOT / "buildings" / "town.json"), repo, plugin_registry(), max_agents=max(2000, n)
        )
        await world.start([])
        for i in range(n):
            population.add_agent(world, f"Bench {i:04d}", "A bench agent.", "Earn money.", cash=100)
        await world.commit()
        agents = list(world.agents.values())
        alone = _ServerAlone(url.rsplit("/", 1)[1], twin) if twin else None
        walls, cpus, alone_walls = [], [], []
        for tick in range(1, ticks + 1):
            ch = _batch(agents, tick, embed)
            rows = len(ch.agents) + len(ch.ledger) + len(ch.memories) + len(ch.events) + len(ch.llm_calls) + 1
            t0, c0 = time.perf_counter(), time.process_time()
            await repo.commit(ch)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            if alone is not None:
                alone_walls.append(alone.run(await _statements(repo, ch)))
        assert await repo.count("llm_calls") == 3 * n * ticks
        if alone is not None:
            alone.close()
    finally:
        await repo.close()
    figs = {
        "median_ms": round(statistics.median(walls) * 1000, 1),
        "max_ms": round(max(walls) * 1000, 1),
        "client_cpu_ms": round(statistics.median(cpus) * 1000, 1),
        "rows_per_tick": rows,
        "ticks": ticks,
    }
    if alone_walls:
        figs["server_alone_median_ms"] = round(statistics.median(alone_walls) * 1000, 1)
    return figs


_LOGS = ("ledger", "memories", "events", "llm_calls")


async def _real_ticks(db: str, n: int, ticks: int) -> dict[str, Any]:
    """Tick a town of `n` stream-memory agents on the scripted model; its commits as the tick
    answers report them."""
    from server.app import run_town, tune_gc
    from townclient import TownClient

    with scratch() as tmp:
        async with run_town(settings(tmp, n, memory="stream", db=db)) as town:
            tune_gc()  # as `python -m server` does once the town is loaded
            repo = town.services.world.repo
            before = {t: await repo.count(t) for t in _LOGS}
            commits, changed = [], []
            async with await TownClient.connect(town.ws_url) as admin:
                await admin.call("login", token=ADMIN)
                for _ in range(ticks):
                    s = await admin.call("tick")
                    commits.append(s["phases_ms"]["commit"])
                    changed.append(s["stepped"] + s["moved"])
            added = {t: round((await repo.count(t) - before[t]) / ticks) for t in _LOGS}
    return {
        "agents": n,
        "ticks": ticks,
        "commit_median_ms": round(statistics.median(commits), 1),
        "commit_max_ms": round(max(commits), 1),
        "agents_stepped_or_moved_per_tick": round(statistics.mean(changed)),
        "log_rows_per_tick": added,
    }


def _mysql_db() -> str | None:
    try:
        import pymysql

        name = f"bench_{uuid.uuid4().hex[:10]}"
        c = pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", autocommit=True, connect_timeout=3
        )
        with c.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        c.close()
        return name
    except Exception:  # noqa: BLE001 - reported as "unavailable" in the figures
        return None


def _drop(name: str) -> None:
    import pymysql

    c = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    with c.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    c.close()


async def run(quick: bool) -> None:
    n, ticks = (100, 2) if quick else (1000, 10)
    figs: dict[str, Any] = {}
    real: dict[str, Any] = {}
    with scratch() as tmp:
        figs["sqlite"] = await _backend(f"sqlite:///{tmp / 'bench.sqlite3'}", n, ticks)
        real["sqlite"] = await _real_ticks(f"sqlite:///{tmp / 'town-real.sqlite3'}", n, ticks)
    name = _mysql_db()
    if name is None:
        figs["mysql"] = "unavailable (MariaDB at 127.0.0.1:3306 unreachable)"
    else:
        twin = _mysql_db()
        assert twin is not None
        try:
            figs["mysql"] = await _backend(f"{MYSQL}/{name}", n, ticks, twin=twin)
        finally:
            _drop(name)
            _drop(twin)
        name = _mysql_db()
        assert name is not None
        try:  # the same batch with memories stored without their embedding blob
            figs["mysql_no_embeddings"] = await _backend(f"{MYSQL}/{name}", n, ticks, embed=False)
        finally:
            _drop(name)
        name = _mysql_db()
        assert name is not None
        try:
            real["mysql"] = await _real_ticks(f"{MYSQL}/{name}", n, ticks)
        finally:
            _drop(name)
    figs["real_ticks"] = real
    ok = all(
        isinstance(figs.get(k), dict) and figs[k].get("median_ms", 1e9) < 100 for k in ("sqlite", "mysql")
    )
    emit(
        "persistence",
        {
            "agents": n,
            "ticks": ticks,
            "per_tick": "agents, ledger, memories (256-d), events, "
            "3 llm_calls per agent, tick row; one transaction",
        },
        figs,
        "one tick's commit < 100 ms on each backend",
        ok,
    )


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
