"""tick.py: drive a running town in free mode over its websocket.

    python tick.py                      # tick every 2 s until Ctrl-C
    python tick.py --ticks 100 --interval 0   # 100 ticks, as fast as the server answers

Ctrl-C stops cleanly after the tick in flight. While an admin has paused ticking, it waits.
Exits 0 when done, 1 on a fatal error (server unreachable, wrong token, server error), 130 when
stopped by Ctrl-C.

It needs only `townclient.py` beside it and the `websockets` and `pydantic` packages, so it runs
on any machine that reaches the server (docs/drivers.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from townclient import CommandError, ConnectionLost, TickSummary, connect_driver, stop_on_signals


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
    p = argparse.ArgumentParser(description="Send ticks to a running AI town server.")
    p.add_argument(
        "--url", default=os.environ.get("TOWN_URL", "ws://127.0.0.1:8000/ws"), help="server websocket URL"
    )
    p.add_argument(
        "--token", default=os.environ.get("TOWN_ADMIN_TOKEN"), help="admin token (or TOWN_ADMIN_TOKEN)"
    )
    p.add_argument("--ticks", type=int, default=0, help="how many ticks; 0 = until stopped")
    p.add_argument(
        "--interval", type=float, default=2.0, help="seconds between tick starts; 0 = as fast as possible"
    )
    p.add_argument(
        "--connect-timeout", type=float, default=30.0, help="seconds to keep trying to reach the server"
    )
    p.add_argument("--quiet", action="store_true", help="only the final line")
    p.add_argument(
        "--tick-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for one tick's answer; 0 = no limit (a town on a slow local model)",
    )
    return p.parse_args(argv)


async def drive(args: argparse.Namespace) -> int:
    """Send the ticks; the exit code as described in the module docstring."""
    with stop_on_signals() as stop:
        return await _drive(args, stop)


async def _drive(args: argparse.Namespace, stop: asyncio.Event) -> int:
    c = await connect_driver("tick.py", args.url, args.connect_timeout)
    if c is None:
        return 1
    totals: dict[str, float] = {"ticks": 0, "llm_calls": 0, "tokens": 0, "cost_usd": 0.0, "failures": 0}
    t_start = time.monotonic()
    waiting = False
    try:
        await c.call("login", token=args.token or "")
        while not stop.is_set() and (args.ticks == 0 or totals["ticks"] < args.ticks):
            started = time.monotonic()
            try:
                s = TickSummary.model_validate(await c.call("tick", timeout=args.tick_timeout or None))
            except CommandError as e:
                if e.code == "paused":
                    if not waiting:
                        print("ticking is paused by an admin; waiting ...", flush=True)
                        waiting = True
                    await _wait(stop, 0.5)
                    continue
                raise
            waiting = False
            totals["ticks"] += 1
            totals["llm_calls"] += s.llm_calls
            totals["tokens"] += s.tokens
            totals["cost_usd"] += s.cost_usd
            totals["failures"] += s.failures
            if not args.quiet:
                print(s.progress_line(), flush=True)
                for err in s.errors[:3]:
                    print(f"      ! {err['agent']}: {err['error']}", flush=True)
            if args.interval > 0:
                await _wait(stop, args.interval - (time.monotonic() - started))
    except CommandError as e:
        print(f"tick.py: the server refused: {e}", file=sys.stderr)
        return 1
    except (ConnectionLost, OSError) as e:
        print(f"tick.py: lost the server: {e}", file=sys.stderr)
        return 1
    finally:
        await c.close()
    el = time.monotonic() - t_start
    cost = f" (${totals['cost_usd']:.4f})" if totals["cost_usd"] else ""
    print(
        f"done: {totals['ticks']} ticks in {el:.1f}s, {totals['llm_calls']} LLM calls, {totals['tokens']} tokens{cost}, "
        f"{totals['failures']} agent failures",
        flush=True,
    )
    return 130 if stop.is_set() and args.ticks and totals["ticks"] < args.ticks else 0


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    if seconds <= 0:
        return
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Run tick.py with these arguments (default: the command line); its exit code."""
    return asyncio.run(drive(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
