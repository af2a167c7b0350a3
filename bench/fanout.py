"""Broadcast latency: 200 websocket clients subscribed (in a separate process, so they do not
share the server's event loop) while 1000 agents move on the scripted model. For each tick, the
time from the tick's commit (the moment `Hub.publish` is called, right after the commit) to the
last client receiving the `tick` delta (stamped as the frame is read, before it is decoded); p50
and p99 over the ticks. Both processes read CLOCK_MONOTONIC, which is system-wide on Linux.

A slow client must not slow the others. The first 30 ticks (3 in a quick run) run with the clients alone: that
is the baseline, in the same run. Then one more client subscribes and never reads;
`limits.send_queue_frames` is 16 here (default 256), so its queue fills within the run and it
is dropped. The ticks published while it was still subscribed, its frames piling up, are
compared with the baseline; the rest come after its drop.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench._common import ADMIN, ROOT, emit, main_async, pct_ms, scratch, settings
from bench._subscribers import SLOW_AGENT

# Subscriber processes. Two (100 clients each) measured worse than one on this 2-core box: the
# clients, the server and other work share the same two cores.
PROCS = int(os.environ.get("BENCH_SUBSCRIBER_PROCS", "1"))
# The server's send buffer on the slow client's connection (told apart by its User-Agent; the
# others are left alone): left to autotune, loopback grows it to 4 MB, which holds ~50 deltas
# before the bounded queue is reached.
SNDBUF = 64 * 1024


def _phase(lat: Sequence[float]) -> dict[str, Any]:
    """How many ticks, and the p50, p99 and max of their commit -> last client times (None: no ticks)."""
    figs: dict[str, Any] = {"ticks": len(lat)}
    for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        figs[f"last_client_{name}_ms"] = pct_ms(lat, q) if lat else None
    return figs


async def run(quick: bool) -> None:
    from server.app import run_town, tune_gc
    from server.protocol import encode, push
    from townclient import TownClient

    agents, clients, baseline, ticks, queue = (100, 20, 3, 30, 2) if quick else (1000, 200, 30, 80, 16)
    published: dict[int, float] = {}
    sizes: list[int] = []
    frame_bytes: list[int] = []
    dropped: list[float] = []
    with scratch() as tmp:
        s = settings(
            tmp,
            agents,
            limits={
                "agents_per_town": 2000,
                "commands_per_second": 10_000,
                "command_burst": 10_000,
                "connections_per_address": 1000,
                "send_queue_frames": queue,
            },
        )
        async with run_town(s) as town:
            tune_gc()  # as `python -m server` does once the town is loaded
            hub = town.services.hub
            publish = hub.publish

            def timed(kind: str, data: dict[str, Any]) -> int:  # instrumentation only: stamps the call
                if kind != "tick":
                    return publish(kind, data)
                published[data["tick"]] = time.monotonic()
                before = len(hub.sessions)
                n = publish(kind, data)
                if len(hub.sessions) < before:  # the hub dropped a subscriber too far behind
                    dropped.append(time.monotonic())
                sizes.append(len(data["agents"]))
                frame_bytes.append(len(encode(push(kind, data)).encode()))
                return n

            hub.publish = timed  # type: ignore[method-assign]
            from server.ws import TownSocket

            opened = TownSocket.open

            def small_sndbuf(self: TownSocket, *a: str, **kw: str) -> None:
                if self.request.headers.get("User-Agent") == SLOW_AGENT:  # only the slow link's
                    self.ws_connection.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)  # type: ignore[union-attr]
                opened(self, *a, **kw)

            TownSocket.open = small_sndbuf  # type: ignore[method-assign]
            procs = []
            for k in range(PROCS):  # the clients split over processes; the slow one in the first
                share = clients // PROCS + (1 if k < clients % PROCS else 0)
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bench._subscribers",
                        town.ws_url,
                        str(share),
                        str(ticks),
                        "1" if k == 0 else "0",
                        cwd=ROOT,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        limit=1 << 24,
                    )
                )
            for proc in procs:
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), 120)
                assert line.strip() == b"ready", line
            async with await TownClient.connect(town.ws_url) as admin:
                await admin.call("login", token=ADMIN)
                t0 = time.monotonic()
                for _ in range(baseline):
                    await admin.call("tick")
                joined = await _join_slow(procs[0], hub, clients)
                for _ in range(ticks - baseline):
                    await admin.call("tick")
                ticking = time.monotonic() - t0
            got: dict[str, list[float]] = {}
            for proc in procs:
                assert proc.stdout is not None and proc.stdin is not None
                for tick, stamps in json.loads(await asyncio.wait_for(proc.stdout.readline(), 300)).items():
                    got.setdefault(tick, []).extend(stamps)
                proc.stdin.write(b"\n")
                await proc.stdin.drain()
            for proc in procs:
                await proc.wait()
    last = {int(k): max(v) - published[int(k)] for k, v in got.items()}
    first = [min(v) - published[int(k)] for k, v in got.items()]
    complete = all(len(v) == clients for v in got.values()) and len(got) == ticks
    drop = dropped[0] if dropped else float("inf")
    base = [x for k, x in last.items() if published[k] < joined]
    with_slow = [x for k, x in last.items() if joined <= published[k] < drop]
    after = [x for k, x in last.items() if published[k] >= drop]
    figs = {
        "clients": clients,
        "ticks": ticks,
        "all_clients_got_every_tick": complete,
        **_phase(list(last.values())),
        "first_client_p50_ms": pct_ms(first, 0.5),
        "baseline_no_slow_client": _phase(base),
        "while_slow_client_subscribed": _phase(with_slow),
        "after_slow_client_dropped": _phase(after),
        "agents_in_delta_median": sorted(sizes)[len(sizes) // 2],
        "delta_bytes_median": sorted(frame_bytes)[len(frame_bytes) // 2],
        "ms_per_tick": round(ticking * 1000 / ticks, 1),
        "slow_client_dropped": len(dropped) == 1,
        "slow_client_dropped_after_s": round(drop - joined, 2) if dropped else None,
    }
    p99 = figs["last_client_p99_ms"]
    emit(
        "fanout",
        {
            "agents": agents,
            "clients": clients,
            "baseline_ticks": baseline,
            "slow_clients": 1,
            "send_queue_frames": queue,
            "slow_client_server_so_sndbuf": SNDBUF,
            "llm": "scripted",
            "subscriber_processes": PROCS,
        },
        figs,
        "p99 commit -> last client < 200 ms; the slow client dropped",
        complete and p99 is not None and p99 < 200 and len(dropped) == 1,
    )


async def _join_slow(proc: Any, hub: Any, clients: int) -> float:
    """Have the first subscriber process open its slow client; once the server counts it among
    the subscribers, the time it joined."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"slow\n")
    await proc.stdin.drain()
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"slow-ready", line
    deadline = time.monotonic() + 10
    while len(hub.sessions) <= clients:  # its subscribe frame is read by the server
        if time.monotonic() > deadline:
            raise RuntimeError("the slow client did not get subscribed within 10 s")
        await asyncio.sleep(0.005)
    return time.monotonic()


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main(sys.argv[1:])
