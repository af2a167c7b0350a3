"""Run the benchmarks: `python -m bench [--quick] [name ...]` (`./town bench`).

Each benchmark runs in its own process and prints one JSON line; this prints them as they come.
Exit status 1 when a benchmark crashes (a missed target is `"target_met": false`, not a crash).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench._common import ROOT

ALL = (
    "tick_concurrency",
    "llm_client",
    "server_overhead",
    "memory_retrieval",
    "pathfinding",
    "persistence",
    "fanout",
    "footprint",
    "day",
    "browser",
    "replay",
    "checkpoint",
    "report",
    "real_model",
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument(
        "names",
        nargs="*",
        choices=[[], *ALL],
        metavar="name",
        help=f"benchmarks to run (default: all): {', '.join(ALL)}",
    )
    a = p.parse_args(argv)
    failed = []
    for name in a.names or ALL:
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if a.quick else [])
        r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(r.stdout)
        sys.stdout.flush()
        if r.returncode != 0:
            failed.append(name)
            print(f"bench {name}: crashed (exit {r.returncode})", file=sys.stderr)
        print(f"bench {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
