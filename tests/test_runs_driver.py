"""runs.py as a user runs it: fork, run N, interview, then keep (fin) or discard (exit)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from server.app import Running
from tests.conftest import ADMIN
from tests.db_rows import table_rows

ROOT = Path(__file__).resolve().parent.parent


async def runs_py(stdin: str, *args: str) -> tuple[int, str, str]:
    p = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "runs.py"),
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(p.communicate(stdin.encode()), 120)
    assert p.returncode is not None
    return p.returncode, out.decode(), err.decode()


async def test_fork_run_interview_and_exit_discards_only_the_new_run(town: Running, admin) -> None:  # type: ignore[no-untyped-def]
    await admin.call("tick", count=3)
    await admin.call("fork_run", name="other")
    store = town.services.runs
    assert store is not None
    before = {name: table_rows(store.url(name)) for name in ("main", "other")}
    aid = sorted(town.services.world.agents)[0]
    code, out, err = await runs_py(
        f"run 2\ninterview {aid} What did you do today?\nbogus\nexit\n",
        "--url", town.ws_url, "--token", ADMIN, "--name", "trial", "--ticks", "1", "-i",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "forked main at tick 3 into run trial (open)"
    assert sum(1 for ln in lines if ln.startswith("tick ")) == 3
    assert any(ln.startswith(f"{aid}: I'm ") for ln in lines), out
    assert lines[-1] == "discarded run trial; run main is open again"
    listing = await admin.call("list_runs")
    assert listing["open"] == "main" and {r["name"] for r in listing["runs"]} == {"main", "other"}
    assert town.services.world.clock.tick == 3
    assert {name: table_rows(store.url(name)) for name in ("main", "other")} == before


async def test_ticks_then_fin_keeps_the_fork_open(town: Running, admin) -> None:  # type: ignore[no-untyped-def]
    await admin.call("tick", count=2)
    code, out, err = await runs_py(
        "run 1\nfin\n", "--url", town.ws_url, "--token", ADMIN, "--name", "kept", "--ticks", "2", "-i"
    )
    assert code == 0, err
    assert out.splitlines()[-1] == "kept run kept (forked from main at tick 2; now at tick 5)"
    listing = await admin.call("list_runs")
    assert listing["open"] == "kept" and town.services.world.clock.tick == 5
    runs = {r["name"]: r for r in listing["runs"]}
    assert runs["main"]["tick"] == 2
    code, _, err = await runs_py("", "--url", town.ws_url, "--token", ADMIN, "--name", "kept")
    assert code == 1 and "exists already" in err


async def test_probes_file_is_declared_on_the_fork_and_scored(town: Running, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`--probes` declares a scenario file's probes on the fork (its source declares none), and
    `scores` prints their mean at each tick that asked; a bad probes file forks nothing."""
    aid = sorted(town.services.world.agents)[0]
    name = town.services.world.agents[aid].name
    scenario = tmp_path / "scenario.json"
    scenario.write_text(
        json.dumps(
            {
                "name": "probed",
                "goal": "unused here",
                "probes": [
                    {
                        "name": "name",
                        "question": "What is your name?",
                        "every": 2,
                        "agents": [aid],
                        "metric": {"kind": "keywords", "keywords": [name]},
                    }
                ],
            }
        )
    )
    code, out, err = await runs_py(
        "scores\nfin\n",
        "--url", town.ws_url, "--token", ADMIN, "--name", "probed", "--ticks", "4", "-i",
        "--probes", str(scenario),
    )  # fmt: skip
    assert code == 0, err
    assert "declared 1 probe(s): name" in out
    assert "probe name: 2:1.00 4:1.00" in out.splitlines(), out  # the scripted answer: "I'm <name>. ..."
    scores = (await admin.call("probe_scores", run="probed"))["scores"]
    assert [(s["tick"], s["agent_id"], s["score"]) for s in scores] == [(2, aid, 1.0), (4, aid, 1.0)]
    assert (await admin.call("probe_scores", run="main"))["scores"] == []

    bad = tmp_path / "probes.json"
    bad.write_text('[{"name": "p", "question": "q?", "metric": {"kind": "keywords", "keywords": []}}]')
    code, _, err = await runs_py(
        "", "--url", town.ws_url, "--token", ADMIN, "--name", "never", "--probes", str(bad)
    )
    assert code == 1 and str(bad) in err and "probes.0.metric.keywords.keywords" in err, err
    listing = await admin.call("list_runs")
    assert "never" not in {r["name"] for r in listing["runs"]}, "a bad probes file forks nothing"
