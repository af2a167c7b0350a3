"""How long a run's checkpoint holds the world, in a 1000-agent town (scripted model), on SQLite
and on MySQL.

The town is ticked over the websocket with a checkpoint every 10 ticks. For each checkpoint the
figures are how long the world's lock was held (the snapshot's start), how long the copy took in
the background, and the wall time of the ticks while it was copied, beside the ticks with no copy
under way. The in-run baseline is the copy made the way it used to be, under the world's lock from
start to end: that whole time is a pause of the town.
Target: a checkpoint holds the world at most 20 ms (a tick's commit may take up to 100 ms:
`bench persistence`), and ticks during a copy take at most 1.5x the others (median).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import ADMIN, emit, main_async, median_ms, scratch, settings
from bench.persistence import MYSQL, _drop, _mysql_db

TARGET_HOLD_MS = 20.0
TARGET_TICK_RATIO = 1.5
EVERY = 10


async def _measure(db: str, tmp: Path, agents: int, ticks: int) -> dict[str, Any]:
    from server.app import run_town
    from server.client import TownClient
    from server.runs.store import checkpoint_slot

    holds: list[float] = []
    copies: list[float] = []
    walls_copying: list[float] = []
    walls_quiet: list[float] = []
    walls_begin: list[float] = []
    async with run_town(
        settings(tmp, agents, db=db, runs={"checkpoint_every": EVERY, "keep_checkpoints": 3})
    ) as town:
        store, w = town.services.runs, town.services.world
        assert store is not None
        c = await TownClient.connect(town.ws_url)
        await c.call("login", token=ADMIN)
        pending = False
        for i in range(ticks):
            before = store.copying
            t0 = time.perf_counter()
            tick = (await c.call("tick"))["tick"]
            wall = time.perf_counter() - t0
            if tick % EVERY == 0:  # this tick began a checkpoint: its hold is in `wall`
                holds.append(store.last_hold_s)
                walls_begin.append(wall)
                pending = True
                continue
            if tick > 1:  # the first tick warms up
                (walls_copying if before or store.copying else walls_quiet).append(wall)
            if pending and (tick % EVERY == EVERY - 1 or i == ticks - 1):
                await store.settled()  # before the next one begins, which would wait for it too
                copies.append(store.last_copy_s)
                pending = False
        size = _size(db)
        # the baseline: the same copy, with the world's lock held from start to end
        t0 = time.perf_counter()
        async with w.lock:
            await store.backend.copy("main", checkpoint_slot("main", 99_999_999))
        held_whole = time.perf_counter() - t0
        c.close()
    return {
        "agents": agents,
        "ticks": ticks,
        "checkpoints": len(holds),
        "database_mb": round(size / 1e6, 1) if size else None,
        "hold_ms_median": median_ms(holds),
        "hold_ms_max": round(max(holds) * 1000, 2),
        "copy_ms_median": median_ms(copies),
        "baseline_whole_copy_under_lock_ms": round(held_whole * 1000, 1),
        "tick_ms_median_beginning_a_checkpoint": median_ms(walls_begin),
        "tick_ms_median_no_copy": median_ms(walls_quiet),
        "tick_ms_median_while_copying": median_ms(walls_copying) if walls_copying else None,
        "ticks_while_copying": len(walls_copying),
    }


def _size(db: str) -> int:
    if db.startswith("sqlite"):
        p = Path(db.split(":///", 1)[1])
        return sum(f.stat().st_size for f in p.parent.glob(p.name + "*"))
    return 0


def _met(f: dict[str, Any]) -> bool:
    ratio = (f["tick_ms_median_while_copying"] or 0) / max(f["tick_ms_median_no_copy"], 1e-9)
    f["tick_ratio_while_copying"] = round(ratio, 2)
    return f["hold_ms_max"] <= TARGET_HOLD_MS and ratio <= TARGET_TICK_RATIO


async def run(quick: bool) -> None:
    agents, ticks = (100, 21) if quick else (1000, 61)
    figs: dict[str, Any] = {}
    with scratch() as tmp:
        figs["sqlite"] = await _measure(f"sqlite:///{tmp / 'town.sqlite3'}", tmp, agents, ticks)
    name = _mysql_db()
    if name is None:
        figs["mysql"] = "unavailable (MariaDB at 127.0.0.1:3306 unreachable)"
    else:
        try:
            with scratch() as tmp:
                figs["mysql"] = await _measure(f"{MYSQL}/{name}", tmp, agents, ticks)
        finally:
            for slot in _slots(name):
                _drop(slot)
    ok = all(isinstance(f, dict) and _met(f) for f in figs.values())
    emit(
        "checkpoint",
        {"agents": agents, "ticks": ticks, "every": EVERY, "llm": "scripted"},
        figs,
        f"a checkpoint holds the world <= {TARGET_HOLD_MS:g} ms; ticks while it is copied "
        f"<= {TARGET_TICK_RATIO:g}x the others (median)",
        ok,
        notes="tick walls timed by the client; the baseline copy is the last checkpoint's size",
    )


def _slots(name: str) -> list[str]:
    """The bench database and every run or checkpoint database made beside it."""
    import pymysql

    c = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    with c.cursor() as cur:
        cur.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (name + "%",)
        )
        out = [str(r[0]) for r in cur.fetchall()]
    c.close()
    return out


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
