"""runs.py: the researcher's loop on a running town, over its websocket (docs/runs.md).

    python runs.py --name trial --ticks 100            # fork the open run into `trial`, run 100 ticks, keep it
    python runs.py --from base --at 200 --name t2 -i   # fork `base` at its checkpoint of tick 200, then ask
    python runs.py --name t3 --probes scenarios/company.json --ticks 300   # ... asking its probes

It forks a source run (default: the open one) into a new run, opens it, declares the probes of
`--probes` on it (a JSON list of probes, or a scenario file with a `probes` list; none: the
probes the source declared stay), runs `--ticks` ticks with a progress line per tick (as tick.py
prints them), and then, with `-i`, reads commands, one a line, from the terminal:

    run N                        run N more ticks
    interview <agent> <question> ask an agent; it answers from memory and nothing is stored
    scores                       each probe's mean score at its last few ticks
    fin                          keep the new run (it stays open) and quit
    exit                         discard the new run: open the source again, delete the new run, quit

The end of input counts as `fin`. Ctrl-C during `run` stops after the tick in flight. Exits 0
when done, 1 on a fatal error (server unreachable, wrong token, a refused fork, a bad probes
file), 130 when stopped by Ctrl-C outside the interactive loop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import defaultdict
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from townclient import (
    BadFile,
    CommandError,
    ConnectionLost,
    Probe,
    TickSummary,
    TownClient,
    connect_driver,
    read_json,
    stop_on_signals,
    validation_lines,
)

HELP = (
    "commands: run N | interview <agent> <question> | scores | fin (keep the run) | exit (discard it) | help"
)


def load_probes(path: Path) -> list[Probe]:
    """The probes of a file: a JSON list of probes, or an object (a scenario) with a `probes`
    list; BadFile saying what is wrong."""
    raw = read_json(path)
    if isinstance(raw, dict):
        if "probes" not in raw:
            raise BadFile(f"{path}: no `probes` list in this object")
        raw = raw["probes"]
    try:
        return TypeAdapter(list[Probe]).validate_python(raw)
    except ValidationError as e:
        raise BadFile("; ".join(validation_lines(path, e, prefix="probes"))) from e


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Fork a run of a running AI town, run it, keep or discard it.")
    p.add_argument(
        "--url", default=os.environ.get("TOWN_URL", "ws://127.0.0.1:8000/ws"), help="websocket URL"
    )
    p.add_argument(
        "--token", default=os.environ.get("TOWN_ADMIN_TOKEN"), help="admin token (or TOWN_ADMIN_TOKEN)"
    )
    p.add_argument("--from", dest="source", help="the run to fork (default: the open run)")
    p.add_argument("--at", type=int, help="fork at this kept checkpoint tick of the source (default: now)")
    p.add_argument("--name", required=True, help="the new run's name")
    p.add_argument("--ticks", type=int, default=0, help="ticks to run before the prompt (or before quitting)")
    p.add_argument(
        "--probes", type=Path, help="declare these probes on the new run (JSON list or scenario file)"
    )
    p.add_argument(
        "-i", "--interactive", action="store_true", help="then read run/interview/fin/exit commands"
    )
    p.add_argument(
        "--connect-timeout", type=float, default=30.0, help="seconds to keep trying to reach the server"
    )
    return p.parse_args(argv)


class Session:
    """One fork being worked on: the client, the source and new run, and the Ctrl-C flag."""

    def __init__(self, c: TownClient, source: str, name: str, stop: asyncio.Event) -> None:
        self.c = c
        self.source = source
        self.name = name
        self.stop = stop

    async def run(self, n: int) -> int:
        """Run up to `n` ticks (fewer after Ctrl-C, which is then cleared); the ticks run."""
        done = 0
        while done < n and not self.stop.is_set():
            try:
                s = TickSummary.model_validate(await self.c.call("tick"))
            except CommandError as e:
                if e.code != "paused":
                    raise
                print("ticking is paused by an admin; waiting ...", flush=True)
                await asyncio.sleep(0.5)
                continue
            done += 1
            print(s.progress_line(), flush=True)
            for err in s.errors[:3]:
                print(f"      ! {err['agent']}: {err['error']}", flush=True)
        return done

    async def interview(self, agent: str, question: str) -> None:
        ans = await self.c.call("interview", agent_id=agent, question=question)
        print(f"{agent}: {ans['answer']}", flush=True)

    async def scores(self) -> None:
        """Each probe's mean score over the agents asked, at its last five ticks."""
        rows = (await self.c.call("probe_scores"))["scores"]
        by: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in rows:
            by[r["probe"]][r["tick"]].append(r["score"])
        if not by:
            print("no probe scores yet", flush=True)
        for name, ticks in sorted(by.items()):
            last = sorted(ticks)[-5:]
            print(f"probe {name}: " + " ".join(f"{t}:{sum(ticks[t]) / len(ticks[t]):.2f}" for t in last))

    async def keep(self) -> None:
        runs = {r["name"]: r for r in (await self.c.call("list_runs"))["runs"]}
        r = runs[self.name]
        print(
            f"kept run {self.name} (forked from {r['parent']} at tick {r['fork_tick']}; now at tick {r['tick']})"
        )

    async def discard(self) -> None:
        await self.c.call("open_run", name=self.source)
        await self.c.call("delete_run", name=self.name, confirm=True)
        print(f"discarded run {self.name}; run {self.source} is open again", flush=True)


async def read_line(prompt: str) -> str | None:
    """The next line of standard input (None at its end), showing `prompt` on a terminal."""
    if sys.stdin.isatty():
        print(prompt, end="", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


async def interact(s: Session) -> None:
    """Read and carry out commands until fin, exit or the end of input (= fin)."""
    print(HELP, flush=True)
    while True:
        line = await read_line(f"{s.name}> ")
        if line is None:
            await s.keep()
            return
        word, _, rest = line.strip().partition(" ")
        try:
            if word == "run" and rest.strip().isdigit():
                await s.run(int(rest))
                s.stop.clear()
            elif word == "interview" and len(rest.split(None, 1)) == 2:
                agent, question = rest.split(None, 1)
                await s.interview(agent, question.strip())
            elif word == "scores":
                await s.scores()
            elif word == "fin":
                await s.keep()
                return
            elif word == "exit":
                await s.discard()
                return
            elif word:
                print(HELP, flush=True)
        except CommandError as e:
            print(f"refused: {e}", flush=True)


async def drive(args: argparse.Namespace) -> int:
    probes: list[Probe] | None = None
    if args.probes is not None:
        try:
            probes = load_probes(args.probes)
        except BadFile as e:
            print(f"runs.py: bad probes file: {e}", file=sys.stderr)
            return 1
    with stop_on_signals() as stop:
        return await _drive(args, probes, stop)


async def _drive(args: argparse.Namespace, probes: list[Probe] | None, stop: asyncio.Event) -> int:
    c = await connect_driver("runs.py", args.url, args.connect_timeout)
    if c is None:
        return 1
    try:
        await c.call("login", token=args.token or "")
        source = args.source or (await c.call("list_runs"))["open"]
        made = (await c.call("fork_run", name=args.name, source=source, tick=args.at, open=True))["run"]
        print(f"forked {source} at tick {made['fork_tick']} into run {args.name} (open)", flush=True)
        if probes is not None:
            await c.call("set_probes", probes=[p.model_dump(mode="json") for p in probes])
            print(f"declared {len(probes)} probe(s): {', '.join(p.name for p in probes)}", flush=True)
        s = Session(c, source, args.name, stop)
        ran = await s.run(args.ticks)
        if args.interactive:
            stop.clear()
            await interact(s)
        else:
            await s.keep()
            if ran < args.ticks:
                return 130
    except CommandError as e:
        print(f"runs.py: the server refused: {e}", file=sys.stderr)
        return 1
    except (ConnectionLost, OSError) as e:
        print(f"runs.py: lost the server: {e}", file=sys.stderr)
        return 1
    finally:
        await c.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(drive(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
