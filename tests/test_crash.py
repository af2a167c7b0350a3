"""Crash safety (issue 7): the real server as a subprocess, killed with SIGKILL in the middle of a
tick, comes back exactly as of the last committed tick, with the books balanced, and ticks on.
Runs on SQLite and on MySQL (the `db_url` fixture)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from config.settings import ROOT
from server.client import TownClient
from server.db import schema
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.town_responder import town_responder

TOKEN = "crash-test-token"


def busy_responder(body: dict[str, Any]) -> str:
    """town_responder, except that inside a building an agent uses the equipment that moves the
    most cash (so the ledger has more than the starting grants)."""
    answer = town_responder(body)
    if json.loads(answer).get("action") == "leave":
        user = "\n".join(m["content"] for m in body["messages"] if m.get("role") == "user")
        m = re.search(r"This building and its equipment:\n(\{.*\})\n", user)
        if m:
            eqs = json.loads(m.group(1))["equipment"]
            best = max(eqs, key=lambda e: (e["income"], e["price"]), default=None)
            if best is not None and (best["income"] or best["price"]):
                return json.dumps(
                    {
                        "action": "use",
                        "equipment": best["id"],
                        "operation": best["operations"][0],
                        "reason": "work",
                    }
                )
    return answer


def sync_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        return sa.create_engine("sqlite:///" + url.split(":///", 1)[1])
    return sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of every table, in a stable order (read straight from the database)."""
    eng = sync_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with eng.connect() as c:
        for t in schema.metadata.sorted_tables:
            out[t.name] = sorted((tuple(r) for r in c.execute(sa.select(t))), key=repr)
    eng.dispose()
    return out


def check_books(d: dict[str, list[tuple[Any, ...]]]) -> int:
    """The stored ledger balances and agrees with every agent's cash; tick rows run 1..N with
    N the stored clock. Returns N."""
    cols = [c.name for c in schema.ledger.columns]
    bal: dict[str, int] = {}
    for row in d["ledger"]:
        e = dict(zip(cols, row, strict=True))
        bal[e["src"]] = bal.get(e["src"], 0) - e["amount"]
        bal[e["dst"]] = bal.get(e["dst"], 0) + e["amount"]
    assert sum(bal.values()) == 0
    acols = [c.name for c in schema.agents.columns]
    for row in d["agents"]:
        a = dict(zip(acols, row, strict=True))
        assert a["cash"] == bal.get(f"agent:{a['id']}", 0) >= 0, a["id"]
    meta = {k: json.loads(v) for k, v in d["meta"] if k != "schema_version"}
    ticks = sorted(r[0] for r in d["ticks"])
    assert ticks == list(range(1, meta["tick"] + 1)), (ticks[-3:], meta["tick"])
    return int(meta["tick"])


def started_ports(log: Path) -> list[str]:
    """The ports of every server start the log tells of."""
    return re.findall(r"serving on http://[\d.]+:(\d+)", log.read_text()) if log.exists() else []


@asynccontextmanager
async def server_process(
    db: str, cfg: Path, log: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`python -m server` on a free port; yields the process and its websocket URL."""
    started_before = len(started_ports(log))
    with open(log, "ab") as err:  # noqa: ASYNC230 - opening a local file for the child
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "--port",
            "0",
            "--db",
            db,
            "--admin-token",
            TOKEN,
            "--config",
            str(cfg),
            "--log-level",
            "INFO",
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        while len(ports := started_ports(log)) == started_before:
            assert proc.returncode is None, "the server exited: see " + str(log)
            assert time.monotonic() < deadline, "the server did not start"
            await asyncio.sleep(0.05)
        yield proc, f"ws://127.0.0.1:{ports[-1]}/ws"
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def town_view(c: TownClient) -> dict[str, Any]:
    """What a client sees: the town and every agent in full."""
    town = await c.call("get_town")
    agents = {
        a["id"]: await c.call("get_agent", agent_id=a["id"], memories=500, ledger=5000)
        for a in town["agents"]
    }
    return {"town": town, "agents": agents}


async def test_kill_9_mid_tick_restores_last_committed_tick(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    async with FakeOpenAIServer(responder=busy_responder, latency=0.01, record=False) as fake:
        cfg = tmp_path / "cfg.json"
        cfg.write_text(
            json.dumps(
                {
                    "llm": {
                        "provider": "openai",
                        "base_url": fake.base_url,
                        "api_key": "k",
                        "model": "m",
                        "timeout_s": 30,
                    }
                }
            )
        )
        # 1. committed ticks, then a tick killed while its LLM calls are in flight
        async with server_process(db_url, cfg, log) as (proc, ws):
            c = await TownClient.connect(ws)
            await c.call("login", token=TOKEN)
            for _ in range(80):  # until somebody has spent or earned
                last = await c.call("tick")
                stored = dump(db_url)
                if last["tick"] >= 10 and len(stored["ledger"]) > len(stored["agents"]):
                    break
            # a task offered is salient: the agents without a job think about it in the next tick
            # (an agent busy with a timed action would otherwise make no call)
            await c.call(
                "post_task",
                task={
                    "title": "Tidy the park",
                    "description": "Sweep the paths of Willow Park.",
                    "reward": 5,
                    "building": "park",
                    "condition": {"type": "visited", "building": "park", "count": 1},
                },
            )
            stored = dump(db_url)
            seen = await town_view(c)
            assert check_books(stored) == last["tick"] and stored["memories"]
            assert len(stored["ledger"]) > len(stored["agents"]), "nobody spent or earned: a weak test"
            fake.latency = 1.0  # the next tick is mid-flight for seconds
            await c.send_raw(orjson.dumps({"id": "doomed", "command": "tick", "data": {}}).decode())
            deadline = time.monotonic() + 10
            while fake.in_flight == 0:
                assert time.monotonic() < deadline, "the tick never called the model"
                await asyncio.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            c.close()
        assert dump(db_url) == stored, "the killed tick left something in the database"
        fake.latency = 0.0
        # 2. a restart serves exactly that town, and ticking resumes
        async with server_process(db_url, cfg, log) as (proc, ws):
            c = await TownClient.connect(ws)
            await c.call("login", token=TOKEN)
            assert await town_view(c) == seen
            assert (await c.call("tick"))["tick"] == last["tick"] + 1
            # 3. a kill at a random moment of a long run of ticks (it may land in a commit)
            await c.send_raw(orjson.dumps({"id": "run", "command": "tick", "data": {"count": 1000}}).decode())
            await asyncio.sleep(random.uniform(0.5, 1.5))
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            c.close()
            n = check_books(dump(db_url))
            assert n > last["tick"] + 1
        async with server_process(db_url, cfg, log) as (proc, ws):
            c = await TownClient.connect(ws)
            await c.call("login", token=TOKEN)
            assert (await c.call("info"))["tick"] == n
            assert (await c.call("tick"))["tick"] == n + 1
            assert check_books(dump(db_url)) == n + 1
            c.close()
