"""mayor.py: drive a running town in mayor mode over its websocket.

    python mayor.py scenarios/dessert_shop_hiring.json --token $TOKEN
    python mayor.py scenarios/company.json --max-ticks 500 --report-dir var/reports

It reads a scenario (who the mayor is, the tasks with rewards, deadlines and completion
conditions, or a goal a mayor agent pursues with `mayor_think`, and any probes to ask along the
way), declares the probes (`set_probes`), posts the tasks (`post_task`, admin), sends ticks like tick.py, prints one progress
line per task every `--every` ticks, stops when every task is completed or expired (or at
`--max-ticks`), then prints the outcome and writes the run report (JSON and HTML) to
`--report-dir`. Exits 0 when every task completed, 1 when some expired or were still open at the
tick limit, 2 on a bad scenario file or a connection error, 130 when stopped by Ctrl-C.

Like tick.py it needs only `townclient.py` beside it and the `websockets` and `pydantic` packages
(docs/drivers.md): scenarios are checked against townclient's task models (the server's, mirrored
and compared in the tests; the server checks each posted task again), and the report, JSON and
HTML, comes from the server's `get_report`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from townclient import (
    BadFile,
    CommandError,
    ConnectionLost,
    Probe,
    Report,
    TaskListing,
    TaskSpec,
    TownClient,
    connect_driver,
    read_json,
    stop_on_signals,
    validation_lines,
)


class Scenario(BaseModel):
    """A mayor scenario file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")
    description: str = ""
    mayor: str = Field(default="player", description='an agent id of the town, or "player"')
    max_ticks: int = Field(default=300, ge=1, le=1_000_000)
    tasks: list[TaskSpec] = Field(default_factory=list, max_length=100)
    goal: str | None = Field(default=None, min_length=1, max_length=500, description="a mayor agent's goal")
    think_every: int = Field(default=25, ge=1, description="ticks between the mayor agent's thinking")
    probes: list[Probe] = Field(
        default_factory=list,
        max_length=20,
        description="questions asked every k ticks, scored (docs/runs.md)",
    )

    @model_validator(mode="after")
    def _tasks_or_goal(self) -> Scenario:
        if not self.tasks and self.goal is None:
            raise ValueError("give tasks, or a goal for a mayor agent to pursue")
        if self.goal is not None and self.mayor == "player":
            raise ValueError("a goal needs a mayor agent (an agent id as mayor), not the player")
        return self


class ScenarioError(Exception):
    """The scenario file is missing or invalid; the message names the file and the field."""


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file."""
    try:
        return Scenario.model_validate(read_json(path))
    except BadFile as e:
        raise ScenarioError(str(e)) from e
    except ValidationError as e:
        lines = [f"{path}: {e.error_count()} problem(s)"]
        lines += ["  " + line for line in validation_lines(path, e)]
        raise ScenarioError("\n".join(lines)) from e


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
    p = argparse.ArgumentParser(description="Run a mayor scenario against a running AI town server.")
    p.add_argument("scenario", help="scenario JSON file (see scenarios/)")
    p.add_argument(
        "--url", default=os.environ.get("TOWN_URL", "ws://127.0.0.1:8000/ws"), help="server websocket URL"
    )
    p.add_argument(
        "--token", default=os.environ.get("TOWN_ADMIN_TOKEN"), help="admin token (or TOWN_ADMIN_TOKEN)"
    )
    p.add_argument(
        "--max-ticks", type=int, default=None, help="tick limit (default: the scenario's max_ticks)"
    )
    p.add_argument("--every", type=int, default=10, help="print task progress every N ticks (0: never)")
    p.add_argument("--step", type=int, default=5, help="ticks per tick command")
    p.add_argument(
        "--report-dir", default="var/reports", help="where to write <scenario>.report.json and .html"
    )
    p.add_argument(
        "--connect-timeout", type=float, default=30.0, help="seconds to keep trying to reach the server"
    )
    p.add_argument("--quiet", action="store_true", help="only the outcome")
    return p.parse_args(argv)


def _progress_lines(tick: int, tasks: list[dict[str, Any]]) -> list[str]:
    """One line per task: its id, status, progress and title."""
    return [f"tick {tick:>6}  {t['id']:<4} {t['status']:<9} {t['progress']:<22} {t['title']}" for t in tasks]


async def drive(args: argparse.Namespace) -> int:
    """Run the scenario; the exit code as described in the module docstring."""
    try:
        sc = load_scenario(Path(args.scenario))
    except ScenarioError as e:
        print(f"mayor.py: bad scenario file:\n{e}", file=sys.stderr)
        return 2
    max_ticks = args.max_ticks or sc.max_ticks
    c = await connect_driver("mayor.py", args.url, args.connect_timeout)
    if c is None:
        return 2
    try:
        with stop_on_signals() as stop:
            return await _run(c, sc, args, max_ticks, stop)
    except CommandError as e:
        print(f"mayor.py: the server refused: {e}", file=sys.stderr)
        return 2
    except (ConnectionLost, OSError, TimeoutError) as e:
        print(f"mayor.py: lost the server: {e!r}", file=sys.stderr)
        return 2
    finally:
        await c.close()


async def _run(
    c: TownClient, sc: Scenario, args: argparse.Namespace, max_ticks: int, stop: asyncio.Event
) -> int:
    """Declare the probes, post the tasks, tick until they are done or the limit, print the
    outcome, write the report."""
    await c.call("login", token=args.token or "")
    if sc.probes:
        try:
            await c.call("set_probes", probes=[p.model_dump(mode="json") for p in sc.probes])
        except CommandError as e:
            print(f"mayor.py: {args.scenario}: cannot declare the probes: {e}", file=sys.stderr)
            return 2
        if not args.quiet:
            for p in sc.probes:
                who = ", ".join(p.agents) or "every agent"
                print(
                    f"probe {p.name}: every {p.every} ticks, {p.metric.kind}, {who}: {p.question}", flush=True
                )
    ids: list[str] = []
    for spec in sc.tasks:
        try:
            t = (
                await c.call(
                    "post_task", mayor=sc.mayor, task=spec.model_dump(mode="json", exclude_none=True)
                )
            )["task"]
        except CommandError as e:
            print(f"mayor.py: {args.scenario}: cannot post task {spec.title!r}: {e}", file=sys.stderr)
            return 2
        ids.append(t["id"])
        if not args.quiet:
            print(
                f"posted {t['id']}: {t['title']} (reward {t['reward']}, mayor {sc.mayor}"
                f"{', deadline tick ' + str(t['deadline_tick']) if t['deadline_tick'] is not None else ''})",
                flush=True,
            )
    ran = 0
    if sc.goal is not None:
        ids += await _think(c, sc, args)
    listing = TaskListing.model_validate(await c.call("list_tasks", ids=ids))
    last_print = -1
    while ran < max_ticks and not stop.is_set() and any(t["status"] == "open" for t in listing.tasks):
        n = max(1, min(args.step, max_ticks - ran))
        try:
            await c.call("tick", count=n)
        except CommandError as e:
            if e.code == "paused":
                await asyncio.sleep(1.0)
                continue
            raise
        ran += n
        if sc.goal is not None and (ran // sc.think_every > (ran - n) // sc.think_every):
            ids += await _think(c, sc, args)  # the mayor follows its tasks up
        listing = TaskListing.model_validate(await c.call("list_tasks", ids=ids))
        if not args.quiet and args.every and ran // args.every != last_print:
            last_print = ran // args.every
            for line in _progress_lines(listing.tick, listing.tasks):
                print(line, flush=True)
    answer = Report.model_validate(await c.call("get_report", html=True, timeout=600))
    rep, html = answer.report, answer.html
    tasks = listing.tasks
    names = {a["id"]: a["name"] for a in rep["agents"]}
    print(f"scenario {sc.name}: {ran} ticks run, now tick {listing.tick}", flush=True)
    for t in tasks:
        who = ", ".join(names.get(a, a) for a in t["credited"]) or "-"
        when = f"at tick {t['completed_tick']}" if t["completed_tick"] is not None else f"({t['progress']})"
        cash = "; ".join(f"{p['amount']} {p['src']} -> {p['dst']}" for p in t["payments"]) or "no payment"
        print(f"  {t['id']} {t['status'].upper():<9} {when}: {t['title']}; by {who}; {cash}", flush=True)
    print(
        f"  ledger: sum of balances {rep['ledger']['total']} ({'zero-sum' if rep['ledger']['zero_sum'] else 'BROKEN'}),"
        f" agents hold {rep['ledger']['agents_total']}; LLM {rep['llm']['calls']} calls, {rep['llm']['tokens']} tokens"
        + (f" (${rep['llm']['cost_usd']:.4f})" if rep["llm"]["cost_usd"] else ""),
        flush=True,
    )
    for p in rep.get("probes") or []:
        series = " ".join(f"{t}:{v:.2f}" for t, v in p["mean"][-8:])
        print(f"  probe {p['name']}: mean score by tick {series}", flush=True)
    rep["scenario"] = {"name": sc.name, "mayor": sc.mayor, "task_ids": ids, "ticks_run": ran}
    path = await asyncio.to_thread(write_report, Path(args.report_dir), sc.name, rep, html)
    print(f"  report: {path} and .html", flush=True)
    if stop.is_set() and any(t["status"] == "open" for t in tasks):
        return 130
    return 0 if tasks and all(t["status"] == "completed" for t in tasks) else 1


async def _think(c: TownClient, sc: Scenario, args: argparse.Namespace) -> list[str]:
    """The mayor agent's round of thinking toward the goal; the ids of the tasks it posted."""
    out = await c.call("mayor_think", mayor=sc.mayor, goal=sc.goal, timeout=600)
    if not args.quiet:
        for t in out["posted"]:
            print(f"mayor {sc.mayor} posted {t['id']}: {t['title']} (reward {t['reward']})", flush=True)
        for why in out["skipped"]:
            print(f"mayor {sc.mayor} skipped {why}", flush=True)
    return [str(t["id"]) for t in out["posted"]]


def write_report(out: Path, name: str, rep: dict[str, Any], html: str | None) -> Path:
    """Write `<name>.report.json` and `<name>.report.html` (the server's page) into `out`; the JSON
    file's path. A server too old to render the page for `get_report` leaves the HTML out."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.report.json"
    path.write_text(json.dumps(rep, indent=1))
    if html is None:
        print("mayor.py: the server sent no HTML report (an older server?)", file=sys.stderr)
    else:
        (out / f"{name}.report.html").write_text(html, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Run mayor.py with these arguments (default: the command line); its exit code."""
    return asyncio.run(drive(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
