"""tick.py as a user runs it: a subprocess driving a live server."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from server.app import Running
from tests.conftest import ADMIN

ROOT = Path(__file__).resolve().parent.parent


async def run_tick_py(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tick.py"),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_tick_py_runs_n_ticks_with_progress(town: Running) -> None:
    p = await run_tick_py("--url", town.ws_url, "--token", ADMIN, "--ticks", "5", "--interval", "0")
    out, err = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert sum(1 for line in lines if line.startswith("tick ")) == 5
    assert "llm" in lines[0] and "tokens" in lines[0] and "failures" in lines[0] and "Day 1" in lines[0]
    assert lines[-1].startswith("done: 5 ticks")
    assert town.services.world.clock.tick == 5


async def test_tick_py_stops_cleanly_on_ctrl_c(town: Running) -> None:
    p = await run_tick_py("--url", town.ws_url, "--token", ADMIN, "--interval", "0.05")
    assert p.stdout is not None
    first = await asyncio.wait_for(p.stdout.readline(), 60)
    assert first.startswith(b"tick ")
    p.send_signal(signal.SIGINT)
    rest, _ = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 0
    assert rest.decode().splitlines()[-1].startswith("done:")
    # the tick in flight finished and was committed: the server's tick count matches the last line
    ticks = [line for line in (first + rest).decode().splitlines() if line.startswith("tick ")]
    assert town.services.world.clock.tick == len(ticks)


async def test_tick_py_fails_on_wrong_token_and_unreachable_server(town: Running) -> None:
    p = await run_tick_py("--url", town.ws_url, "--token", "wrong", "--ticks", "1")
    _, err = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 1 and b"wrong admin token" in err
    p = await run_tick_py("--url", "ws://127.0.0.1:9/ws", "--ticks", "1", "--connect-timeout", "0.5")
    _, err = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 1 and b"cannot reach" in err


async def test_tick_py_waits_while_paused(town: Running, admin) -> None:  # type: ignore[no-untyped-def]
    await admin.call("pause", on=True)
    p = await run_tick_py("--url", town.ws_url, "--token", ADMIN, "--ticks", "2", "--interval", "0")
    assert p.stdout is not None
    line = await asyncio.wait_for(p.stdout.readline(), 60)
    assert b"paused" in line and p.returncode is None
    assert town.services.world.clock.tick == 0
    await admin.call("pause", on=False)
    out, _ = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 0 and town.services.world.clock.tick == 2
    assert out.decode().splitlines()[-1].startswith("done: 2 ticks")
