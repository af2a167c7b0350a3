"""The report as data. Every series is a list of [tick, value] points, oldest first.

`Reports` keeps the report's aggregates (cash series, per-tick figures, LLM sums, chat pairs,
fact diffusion) and brings them up to date by reading only the rows committed since it last
looked (`id > last id`), so a report costs what happened since the last one, not the whole
history; a report asked for again before the next commit is the same object, built once. It
never takes the world lock, reads in chunks and yields to the event loop between them, so
clients polling `/report.json` do not hold up ticking. A reset (or a reload after a failed
commit) starts the aggregates over."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from server.world.tasks import KnowsFact, TaskSpec, keywords, word_set

if TYPE_CHECKING:
    from server.world.world import World

MAX_POINTS = 600  # per series; longer series keep evenly spaced points and the last one
CHUNK = 20_000  # rows read per query while catching up


def _thin(points: list[list[int]]) -> list[list[int]]:
    if len(points) <= MAX_POINTS:
        return [list(p) for p in points]
    step = len(points) / (MAX_POINTS - 1)
    return [list(points[int(i * step)]) for i in range(MAX_POINTS - 1)] + [list(points[-1])]


@dataclass
class _Totals:
    """What the report sums up, as of the rows read so far."""

    ledger_id: int = 0
    entries: int = 0
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cash: dict[str, list[list[int]]] = field(default_factory=lambda: defaultdict(list))
    total: list[list[int]] = field(default_factory=list)  # all agents' cash, per tick it changed
    rewards: list[dict[str, Any]] = field(default_factory=list)
    last_tick: int = -1
    per_tick: list[dict[str, Any]] = field(default_factory=list)
    llm_id: int = 0
    usage: dict[tuple[str, str | None], list[float]] = field(
        default_factory=dict
    )  # calls, failed, tokens, cost
    event_id: int = 0
    chat_lines: int = 0
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    memory_id: int = 0
    fact_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    first: dict[str, dict[str, int]] = field(default_factory=dict)  # fact -> agent -> first tick


class Reports:
    """The town's report, kept up to date incrementally (see the module docstring)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._totals = _Totals()
        self._epoch = world.epoch
        self._lock = asyncio.Lock()  # one catch-up at a time; the others wait and share it
        self._cached: tuple[tuple[int, int], dict[str, Any]] | None = None
        self._encoded: dict[str, tuple[tuple[int, int], str]] = {}

    async def report(self) -> dict[str, Any]:
        """The whole report for the town as of its last commit."""
        async with self._lock:
            w = self.world
            version = (w.epoch, w.commits)
            if self._cached is not None and self._cached[0] == version:
                return self._cached[1]
            if w.epoch != self._epoch:
                self._totals, self._epoch = _Totals(), w.epoch
            await self._catch_up()
            rep = self._assemble()
            self._cached = (version, rep)
            return rep

    async def encoded(self, fmt: str, render: Any = None) -> str:
        """The report as JSON text (`fmt` "json") or as `render(report)`, made once per commit."""
        rep = await self.report()
        version = (self.world.epoch, self.world.commits)
        hit = self._encoded.get(fmt)
        if hit is not None and hit[0] == version and self._cached is not None and self._cached[1] is rep:
            return hit[1]
        text = orjson.dumps(rep).decode() if render is None else str(render(rep))
        self._encoded[fmt] = (version, text)
        return text

    # ----------------------------------------------------------- catching up

    async def _catch_up(self) -> None:
        t = self._totals
        repo = self.world.repo
        async for rows in _chunks(
            repo, "ledger", "id", t.ledger_id, ("id", "tick", "src", "dst", "amount", "reason")
        ):
            for e in rows:
                self._entry(e)
            t.ledger_id = rows[-1]["id"]
        async for rows in _chunks(repo, "ticks", "tick", t.last_tick, ("tick", "summary")):
            for r in rows:
                s = r["summary"] if isinstance(r["summary"], dict) else orjson.loads(r["summary"])
                t.per_tick.append(
                    {
                        k: s.get(k, 0)
                        for k in ("tick", "stepped", "llm_calls", "tokens", "cost_usd", "failures", "wall_ms")
                    }
                )
            del t.per_tick[:-MAX_POINTS]
            t.last_tick = rows[-1]["tick"]
        cols = ("id", "kind", "agent_id", "ok", "prompt_tokens", "completion_tokens", "cost_usd")
        async for rows in _chunks(repo, "llm_calls", "id", t.llm_id, cols):
            for c in rows:
                u = t.usage.setdefault((c["kind"], c["agent_id"]), [0, 0, 0, 0.0])
                u[0] += 1
                u[1] += 0 if c["ok"] else 1
                u[2] += c["prompt_tokens"] + c["completion_tokens"]
                u[3] += c["cost_usd"] or 0.0
            t.llm_id = rows[-1]["id"]
        async for rows in _chunks(repo, "events", "id", t.event_id, ("id", "kind", "agent_id", "other_id")):
            for ev in rows:
                if ev["kind"] == "chat":
                    t.chat_lines += 1
                    if ev["agent_id"] and ev["other_id"]:
                        a, b = sorted((ev["agent_id"], ev["other_id"]))
                        t.pairs[(a, b)] += 1
            t.event_id = rows[-1]["id"]
        await self._diffusion_catch_up()

    def _entry(self, e: dict[str, Any]) -> None:
        t = self._totals
        t.entries += 1
        tick = e["tick"]
        for acct, delta in ((e["src"], -e["amount"]), (e["dst"], e["amount"])):
            before = t.balances[acct]
            t.balances[acct] = before + delta
            pts = t.cash[acct]
            if pts and pts[-1][0] == tick:
                pts[-1][1] = t.balances[acct]
            else:
                pts.append([tick, t.balances[acct]])
            if acct.startswith("agent:"):
                running = (t.total[-1][1] if t.total else 0) + delta
                if t.total and t.total[-1][0] == tick:
                    t.total[-1][1] = running
                else:
                    t.total.append([tick, running])
        if e["reason"].startswith(("reward", "reward in escrow")):
            t.rewards.append({k: e[k] for k in ("tick", "src", "dst", "amount", "reason")})

    def _facts(self) -> dict[str, tuple[str, frozenset[str]]]:
        """Each fact the report follows: who seeded it and the key words that show it is known."""
        w = self.world
        board = w.task_board
        tasks = board.listing() if board is not None else []
        facts = {f: a.id for a in w.agents.values() for f in a.facts}
        for task in tasks:
            cond = TaskSpec.model_validate(
                {k: task[k] for k in ("title", "description", "reward", "building", "condition")}
            ).condition
            if isinstance(cond, KnowsFact):
                facts.setdefault(cond.fact, "")
        out = {}
        for fact, seeded_by in facts.items():
            keys = set(keywords(fact))
            for task in tasks:
                c = task["condition"]
                if c.get("type") == "knows_fact" and c.get("fact") == fact and c.get("keywords"):
                    keys = {k.lower() for k in c["keywords"]}
            out[fact] = (seeded_by, frozenset(keys))
        return out

    async def _diffusion_catch_up(self) -> None:
        t = self._totals
        wanted = {f: keys for f, (_, keys) in self._facts().items()}
        new = {f: k for f, k in wanted.items() if t.fact_keys.get(f) != k}
        for f in list(t.fact_keys):
            if f not in wanted:
                del t.fact_keys[f], t.first[f]
        for f, keys in new.items():
            t.fact_keys[f], t.first[f] = keys, {}
        if new and t.memory_id > 0:  # facts not followed before: the memories read so far, for them
            async for rows in _chunks(
                self.world.repo, "memories", "id", 0, ("id", "agent_id", "tick", "text")
            ):
                upto = [m for m in rows if m["id"] <= t.memory_id]
                self._match(upto, new)
                if len(upto) < len(rows):
                    break
        if not t.fact_keys:
            return
        async for rows in _chunks(
            self.world.repo, "memories", "id", t.memory_id, ("id", "agent_id", "tick", "text")
        ):
            self._match(rows, t.fact_keys)
            t.memory_id = rows[-1]["id"]

    def _match(self, rows: list[dict[str, Any]], facts: dict[str, frozenset[str]]) -> None:
        first = self._totals.first
        for m in rows:
            words = word_set(m["text"])
            for f, keys in facts.items():
                known = first[f]
                if m["agent_id"] not in known and keys <= words:
                    known[m["agent_id"]] = m["tick"]

    # -------------------------------------------------------------- assembly

    def _assemble(self) -> dict[str, Any]:
        w, t = self.world, self._totals
        names = {a.id: a.name for a in w.agents.values()}
        by_kind: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "tokens": 0, "cost_usd": 0.0})
        by_agent: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "tokens": 0, "cost_usd": 0.0})
        calls = failed = tokens = 0
        cost = 0.0
        for (kind, agent_id), (n, bad, tok, usd) in sorted(
            t.usage.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
        ):
            for k in (by_kind[kind], by_agent[agent_id or ""]):
                k["calls"] += int(n)
                k["tokens"] += int(tok)
                k["cost_usd"] += usd
            calls, failed, tokens, cost = calls + int(n), failed + int(bad), tokens + int(tok), cost + usd
        for k in (*by_kind.values(), *by_agent.values()):
            k["cost_usd"] = round(k["cost_usd"], 6)
        board = w.task_board
        tasks = board.listing() if board is not None else []
        accounts = w.ledger.accounts()
        agent_accounts = {k: v for k, v in accounts.items() if k.startswith("agent:")}
        return {
            "town": w.town.map.name,
            "tick": w.clock.tick,
            "clock": str(w.clock),
            "seed": w.seed,
            "agents": [
                {"id": a.id, "name": a.name, "cash": a.cash, "job": w.jobs.get(a.id)}
                for a in sorted(w.agents.values(), key=lambda a: a.id)
            ],
            "ledger": {
                "entries": t.entries,
                "total": w.ledger.total(),
                "zero_sum": w.ledger.total() == 0,
                "agents_total": sum(agent_accounts.values()),
                "accounts": dict(sorted(accounts.items())),
                "rewards": [dict(r) for r in t.rewards],
            },
            "cash": {
                acct[6:]: _thin(pts) for acct, pts in sorted(t.cash.items()) if acct.startswith("agent:")
            },
            "cash_total": _thin(t.total),
            "llm": {
                "calls": calls,
                "tokens": tokens,
                "cost_usd": round(cost, 6),
                "failed": failed,
                "by_kind": dict(sorted(by_kind.items())),
                "by_agent": dict(sorted(by_agent.items())),  # "" holds calls made for no agent
                "per_tick": [dict(r) for r in t.per_tick],
            },
            "tasks": tasks,
            "jobs": dict(board.job_info) if board is not None else {},
            "companies": list(board.companies) if board is not None else [],
            "chats": {
                "lines": t.chat_lines,
                "nodes": [{"id": a, "name": n} for a, n in sorted(names.items())],
                "edges": [{"a": a, "b": b, "count": n} for (a, b), n in sorted(t.pairs.items())],
            },
            "diffusion": self._diffusion(),
        }

    def _diffusion(self) -> list[dict[str, Any]]:
        t, now = self._totals, self.world.clock.tick
        out = []
        for fact, (seeded_by, keys) in self._facts().items():
            first = t.first.get(fact, {})
            counts = Counter(first.values())
            series, n = [], 0
            for tick in sorted(counts):
                n += counts[tick]
                series.append([tick, n])
            if series and series[-1][0] < now:
                series.append([now, n])
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


async def _chunks(repo: Any, table: str, order: str, after: Any, columns: tuple[str, ...]) -> Any:
    """The rows of `table` after `after` by `order`, in chunks of `CHUNK`, yielding to the event
    loop between chunks."""
    while True:
        rows = await repo.rows(table, order=order, limit=CHUNK, columns=columns, after=after)
        if not rows:
            return
        yield rows
        if len(rows) < CHUNK:
            return
        after = rows[-1][order]
        await asyncio.sleep(0)


async def build_report(world: World) -> dict[str, Any]:
    """The whole report, read from scratch (the server keeps a `Reports` instead)."""
    return await Reports(world).report()
