"""The report as data. Every series is a list of [tick, value] points, oldest first."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from server.world.tasks import KnowsFact, TaskSpec, keywords, word_set

if TYPE_CHECKING:
    from server.world.world import World

MAX_POINTS = 600  # per series; longer series keep evenly spaced points and the last one


def _thin(points: list[list[int]]) -> list[list[int]]:
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / (MAX_POINTS - 1)
    return [points[int(i * step)] for i in range(MAX_POINTS - 1)] + [points[-1]]


async def build_report(world: World) -> dict[str, Any]:
    """The whole report for the town as of its last commit."""
    repo = world.repo
    names = {a.id: a.name for a in world.agents.values()}
    entries = await repo.ledger_entries()
    cash = _cash_series(entries)
    ticks = await repo.rows("ticks", order="tick", limit=10_000_000)
    per_tick = []
    for r in ticks:
        s = r["summary"] if isinstance(r["summary"], dict) else json.loads(r["summary"])
        per_tick.append(
            {
                k: s.get(k, 0)
                for k in ("tick", "stepped", "llm_calls", "tokens", "cost_usd", "failures", "wall_ms")
            }
        )
    usage = await repo.llm_usage()  # summed in the database, per (kind, agent)
    by_kind: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "tokens": 0, "cost_usd": 0.0})
    by_agent: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "tokens": 0, "cost_usd": 0.0})
    for u in usage:
        for k in (by_kind[u["kind"]], by_agent[u["agent_id"] or ""]):
            k["calls"] += u["calls"]
            k["tokens"] += u["tokens"]
            k["cost_usd"] += u["cost_usd"]
    for k in (*by_kind.values(), *by_agent.values()):
        k["cost_usd"] = round(k["cost_usd"], 6)
    chat_lines, chat_groups = await repo.chat_pairs()
    pairs: Counter[tuple[str, str]] = Counter()
    for speaker, listener, n in chat_groups:
        a, b = sorted((speaker, listener))
        pairs[(a, b)] += n
    talks = {(a, b): n for a, b, n in await repo.conversation_pairs()}
    board = world.task_board
    tasks = board.listing()
    facts = {f: a.id for a in world.agents.values() for f in a.facts}
    for t in tasks:
        cond = TaskSpec.model_validate(
            {k: t[k] for k in ("title", "description", "reward", "building", "condition")}
        ).condition
        if isinstance(cond, KnowsFact):
            facts.setdefault(cond.fact, "")
    diffusion = await _diffusion(world, facts, tasks)
    agent_accounts = {k: v for k, v in world.ledger.accounts().items() if k.startswith("agent:")}
    return {
        "town": world.town.map.name,
        "tick": world.clock.tick,
        "clock": str(world.clock),
        "seed": world.seed,
        "agents": [
            {"id": a.id, "name": a.name, "cash": a.cash, "job": world.jobs.get(a.id)}
            for a in sorted(world.agents.values(), key=lambda a: a.id)
        ],
        "ledger": {
            "entries": len(entries),
            "total": world.ledger.total(),
            "zero_sum": world.ledger.total() == 0,
            "agents_total": sum(agent_accounts.values()),
            "accounts": dict(sorted(world.ledger.accounts().items())),
            "rewards": [
                {"tick": e.tick, "src": e.src, "dst": e.dst, "amount": e.amount, "reason": e.reason}
                for e in entries
                if e.reason.startswith(("reward", "reward in escrow"))
            ],
        },
        "cash": {acct[6:]: _thin(pts) for acct, pts in sorted(cash.items()) if acct.startswith("agent:")},
        "cash_total": _thin(_total_series(cash)),
        "llm": {
            "calls": sum(u["calls"] for u in usage),
            "tokens": sum(u["tokens"] for u in usage),
            "cost_usd": round(sum(u["cost_usd"] for u in usage), 6),
            "failed": sum(u["failed"] for u in usage),
            "by_kind": dict(sorted(by_kind.items())),
            "by_agent": dict(sorted(by_agent.items())),  # "" holds calls made for no agent
            "per_tick": per_tick[-MAX_POINTS:],
        },
        "tasks": tasks,
        "jobs": dict(board.job_info),
        "companies": list(board.companies),
        "chats": {
            "lines": chat_lines,
            "conversations": sum(talks.values()),
            "nodes": [{"id": a, "name": n} for a, n in sorted(names.items())],
            # count: lines between the two; conversations: how many talks they held
            "edges": [
                {"a": a, "b": b, "count": n, "conversations": talks.get((a, b), 0)}
                for (a, b), n in sorted(pairs.items())
            ],
        },
        "diffusion": diffusion,
    }


def _cash_series(entries: list[Any]) -> dict[str, list[list[int]]]:
    bal: dict[str, int] = defaultdict(int)
    out: dict[str, list[list[int]]] = defaultdict(list)
    for e in entries:
        for acct, delta in ((e.src, -e.amount), (e.dst, e.amount)):
            bal[acct] += delta
            pts = out[acct]
            if pts and pts[-1][0] == e.tick:
                pts[-1][1] = bal[acct]
            else:
                pts.append([e.tick, bal[acct]])
    return dict(out)


def _total_series(cash: dict[str, list[list[int]]]) -> list[list[int]]:
    changes: dict[int, dict[str, int]] = defaultdict(dict)
    for acct, pts in cash.items():
        if acct.startswith("agent:"):
            for tick, v in pts:
                changes[tick][acct] = v
    cur: dict[str, int] = {}
    out = []
    for tick in sorted(changes):
        cur.update(changes[tick])
        out.append([tick, sum(cur.values())])
    return out


async def _diffusion(
    world: World, facts: dict[str, str], tasks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """For each fact: the tick each agent first had a memory holding all its key words."""
    if not facts:
        return []
    mems = await world.repo.rows("memories", limit=10_000_000, columns=("id", "agent_id", "tick", "text"))
    out = []
    for fact, seeded_by in facts.items():
        keys = set(keywords(fact))
        for t in tasks:
            c = t["condition"]
            if c.get("type") == "knows_fact" and c.get("fact") == fact and c.get("keywords"):
                keys = {k.lower() for k in c["keywords"]}
        first: dict[str, int] = {}
        for m in mems:
            if m["agent_id"] not in first and keys <= word_set(m["text"]):
                first[m["agent_id"]] = m["tick"]
        counts = Counter(first.values())
        series, n = [], 0
        for tick in sorted(counts):
            n += counts[tick]
            series.append([tick, n])
        if series and series[-1][0] < world.clock.tick:
            series.append([world.clock.tick, n])
        out.append(
            {
                "fact": fact,
                "seeded_by": seeded_by or None,
                "keywords": sorted(keys),
                "knowers": dict(sorted(first.items(), key=lambda kv: (kv[1], kv[0]))),
                "series": series,
            }
        )
    return out
