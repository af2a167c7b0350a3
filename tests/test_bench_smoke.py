"""The benchmarks' smoke run: `python -m bench --quick` prints one valid JSON line per benchmark.
How long it takes is the benchmarks' business (`python -m bench` prints each one's time), not a
test's: the subprocess timeout only stops a hang."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.__main__ import ALL

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_prints_one_json_line_each() -> None:
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    took = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr[-3000:]
    docs = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert [d["name"] for d in docs] == list(ALL)
    for d in docs:
        assert {"name", "params", "figures", "target", "target_met", "machine"} <= d.keys(), d
        assert isinstance(d["target_met"], bool)
        assert d["figures"] and d["machine"]["cores"] >= 1 and d["machine"]["python"]
    print(f"the quick run took {took:.0f}s")  # a figure, not a test: machines differ
