"""Shared helpers of the benchmarks: the JSON line, machine info, a fake LLM in its own process,
agent preset files and a town started through the real `run_town`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "bench-admin-token"


def _cpu() -> dict[str, Any]:
    """The processor as Linux reports it: model name, family/model numbers and cache sizes. A
    shared VM lands on different hosts from one session to the next, and this tells them apart."""
    info: dict[str, Any] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model") and key not in info:
                info[key] = value.strip()
            if not line.strip() and info:
                break  # the first processor is enough
        caches = Path("/sys/devices/system/cpu/cpu0/cache")
        for index in sorted(caches.glob("index*")):
            kind = (index / "type").read_text().strip()
            if kind != "Instruction":
                info[f"L{(index / 'level').read_text().strip()}"] = (index / "size").read_text().strip()
    except OSError:  # not Linux, or a restricted /proc or /sys
        pass
    return {
        "cpu": info.get("model name", platform.processor() or "unknown"),
        "cpu_family_model": f"{info.get('cpu family', '?')}/{info.get('model', '?')}",
        **{k: v for k, v in info.items() if k.startswith("L")},
    }


def machine() -> dict[str, Any]:
    """Cores, processor, Python and platform of the machine the figures come from."""
    return {
        "cores": os.cpu_count(),
        **_cpu(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def emit(
    name: str, params: dict[str, Any], figures: dict[str, Any], target: str, target_met: bool, notes: str = ""
) -> None:
    """Print the benchmark's one JSON line."""
    doc = {
        "name": name,
        "params": params,
        "figures": figures,
        "target": target,
        "target_met": bool(target_met),
        "machine": machine(),
    }
    if notes:
        doc["notes"] = notes
    sys.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    return p.parse_args(argv)


def median_ms(xs: Sequence[float]) -> float:
    return round(statistics.median(xs) * 1000, 3)


def pct_ms(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 3)


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass(frozen=True)
class FakeLLM:
    """A running fake LLM server: its base URL and process id."""

    url: str
    pid: int

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the fake server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def fake_llm(latency: float, *, restless: bool = False) -> Iterator[FakeLLM]:
    """The fake OpenAI-compatible server (`bench._fake`) in its own process (`restless`: agents
    leave buildings instead of using equipment, so they decide again at once)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._fake", "--latency", str(latency)]
        + (["--restless"] if restless else []),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the fake LLM server did not start (said {url!r})")
        yield FakeLLM(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def presets_file(n: int, directory: Path, *, plan: str = "qa", memory: str = "long_term") -> str:
    """An agent presets file of `n` agents spread over the town's buildings."""
    town = json.loads((ROOT / "buildings" / "town.json").read_text())
    homes = [b["id"] for b in town["buildings"]]
    goals = [
        "Earn money at work and buy good food.",
        "Make friends and chat at the park.",
        "Cook desserts and save for a bakery.",
        "Read books and learn new things.",
    ]
    agents = [
        {
            "name": f"Bench {i:04d}",
            "bio": f"Bench agent number {i}, a busy townsperson.",
            "goal": goals[i % len(goals)],
            "cash": 100,
            "plan": plan,
            "memory": memory,
            "home": homes[i % len(homes)],
        }
        for i in range(n)
    ]
    path = directory / f"agents-{n}-{plan}-{memory}.json"
    path.write_text(json.dumps({"agents": agents}))
    return str(path)


def settings(tmp: Path, n: int, **kw: Any) -> Any:
    """Settings for a bench town of `n` preset agents on a fresh SQLite file."""
    from config.settings import Settings

    plan, memory = kw.pop("plan", "qa"), kw.pop("memory", "long_term")
    base: dict[str, Any] = {
        "db": f"sqlite:///{tmp / 'town.sqlite3'}",
        "port": 0,
        "admin_token": ADMIN,
        "log_level": "WARNING",
        "agents": presets_file(n, tmp, plan=plan, memory=memory),
        "limits": {
            "agents_per_town": max(2000, n),
            "commands_per_second": 10_000,
            "command_burst": 10_000,
            "connections_per_address": 1000,
        },
    }
    base.update(kw)
    return Settings(**base)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="town-bench-") as d:
        yield Path(d)


def quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)


def main_async(
    run: Callable[[bool], Coroutine[Any, Any, None]], argv: Sequence[str] | None, description: str
) -> None:
    """A benchmark's command line: parse `--quick`, keep logs to errors, run `run(quick)`."""
    a = args(argv, description)
    quiet_logs()
    asyncio.run(run(a.quick))


def now() -> float:
    return time.perf_counter()
