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
CHUNK = 20_000  # rows read per table and query while catching up
LEDGER_COLS = ("id", "tick", "src", "dst", "amount", "reason")
LLM_COLS = ("id", "kind", "agent_id", "ok", "prompt_tokens", "completion_tokens", "cost_usd")
MEMORY_COLS = ("id", "agent_id", "tick", "text")
PER_TICK = ("tick", "stepped", "llm_calls", "tokens", "cost_usd", "failures", "wall_ms")


Point = tuple[int, int]  # (tick, value): immutable, so a thinned series shares them


def _thin(points: list[Point]) -> list[Point]:
    if len(points) <= MAX_POINTS:
        return list(points)
    step = len(points) / (MAX_POINTS - 1)
    return [points[int(i * step)] for i in range(MAX_POINTS - 1)] + [points[-1]]


@dataclass
class _Totals:
    """What the report sums up, as of the rows read so far."""

    ledger_id: int = 0
    entries: int = 0
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cash: dict[str, list[Point]] = field(default_factory=lambda: defaultdict(list))
    thinned: dict[str, list[Point]] = field(default_factory=dict)  # of `cash`, kept until it changes
    total: list[Point] = field(default_factory=list)  # all agents' cash, per tick it changed
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
    talk_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # conversation -> its two agents
    talks: Counter[tuple[str, str]] = field(default_factory=Counter)  # conversations a pair held
    memory_id: int = 0
    fact_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    first: dict[str, dict[str, int]] = field(default_factory=dict)  # fact -> agent -> first tick


class Reports:
    """The town's report, kept up to date incrementally (see the module docstring)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._totals = _Totals()
        self._epoch = world.reloads
        self._lock = asyncio.Lock()  # one catch-up at a time; the others wait and share it
        self._cached: tuple[tuple[int, int], dict[str, Any]] | None = None
        self._encoded: dict[str, tuple[tuple[int, int], str]] = {}

    async def report(self) -> dict[str, Any]:
        """The whole report for the town as of its last commit."""
        async with self._lock:
            w = self.world
            version = (w.reloads, w.commits)
            if self._cached is not None and self._cached[0] == version:
                return self._cached[1]
            if w.reloads != self._epoch:
                self._totals, self._epoch = _Totals(), w.reloads
            await self._catch_up()
            rep = self._assemble()
            self._cached = (version, rep)
            return rep

    async def encoded(self, fmt: str, render: Any = None) -> tuple[str, str]:
        """The report's version (an ETag) and the report as JSON text (`fmt` "json") or as
        `render(report)`, made once per commit."""
        await self.report()
        assert self._cached is not None
        version, rep = self._cached  # what report() just returned: nothing awaited since
        tag = f"{version[0]}-{version[1]}-{fmt}"
        hit = self._encoded.get(fmt)
        if hit is not None and hit[0] == version:
            return tag, hit[1]
        text = orjson.dumps(rep).decode() if render is None else str(render(rep))
        self._encoded[fmt] = (version, text)
        return tag, text

    # ----------------------------------------------------------- catching up

    async def _catch_up(self) -> None:
        """Read what was committed since the last report: every table in one read transaction
        (one consistent snapshot), `CHUNK` rows a table at a time."""
        t = self._totals
        await self._new_facts()
        while True:
            wanted: dict[str, tuple[str, Any, tuple[str, ...]]] = {
                "ledger": ("id", t.ledger_id, LEDGER_COLS),
                "ticks": ("tick", t.last_tick, ("tick", "summary")),
                "llm_calls": ("id", t.llm_id, LLM_COLS),
                "events": ("id", t.event_id, ("id", "kind", "agent_id", "other_id", "conversation_id")),
            }
            if t.fact_keys:
                wanted["memories"] = ("id", t.memory_id, MEMORY_COLS)
            got = await self.world.repo.rows_after(wanted, CHUNK)
            if got["ledger"]:
                for e in got["ledger"]:
                    self._entry(e)
                t.ledger_id = got["ledger"][-1]["id"]
            if got["ticks"]:
                for r in got["ticks"]:
                    s = r["summary"] if isinstance(r["summary"], dict) else orjson.loads(r["summary"])
                    t.per_tick.append({k: s.get(k, 0) for k in PER_TICK})
                del t.per_tick[:-MAX_POINTS]
                t.last_tick = got["ticks"][-1]["tick"]
            if got["llm_calls"]:
                for c in got["llm_calls"]:
                    u = t.usage.setdefault((c["kind"], c["agent_id"]), [0, 0, 0, 0.0])
                    u[0] += 1
                    u[1] += 0 if c["ok"] else 1
                    u[2] += c["prompt_tokens"] + c["completion_tokens"]
                    u[3] += c["cost_usd"] or 0.0
                t.llm_id = got["llm_calls"][-1]["id"]
            if got["events"]:
                for ev in got["events"]:
                    if ev["kind"] == "chat":
                        t.chat_lines += 1
                        if ev["agent_id"] and ev["other_id"]:
                            a, b = sorted((ev["agent_id"], ev["other_id"]))
                            t.pairs[(a, b)] += 1
                            conv = ev["conversation_id"]
                            if conv and conv not in t.talk_of:
                                t.talk_of[conv] = (a, b)
                                t.talks[(a, b)] += 1
                t.event_id = got["events"][-1]["id"]
            if got.get("memories"):
                self._match(got["memories"], t.fact_keys)
                t.memory_id = got["memories"][-1]["id"]
            if all(len(rows) < CHUNK for rows in got.values()):
                return
            await asyncio.sleep(0)  # a long history: let the town go on between chunks

    def _entry(self, e: dict[str, Any]) -> None:
        t = self._totals
        t.entries += 1
        tick = e["tick"]
        for acct, delta in ((e["src"], -e["amount"]), (e["dst"], e["amount"])):
            bal = t.balances[acct] = t.balances[acct] + delta
            pts = t.cash[acct]
            if pts and pts[-1][0] == tick:
                pts[-1] = (tick, bal)
            else:
                pts.append((tick, bal))
            t.thinned.pop(acct, None)
            if acct.startswith("agent:"):
                running = (t.total[-1][1] if t.total else 0) + delta
                if t.total and t.total[-1][0] == tick:
                    t.total[-1] = (tick, running)
                else:
                    t.total.append((tick, running))
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

    async def _new_facts(self) -> None:
        """Start following the facts that appeared since the last report (a task posted, an agent
        with facts registered): the memories read so far are searched for them alone."""
        t = self._totals
        wanted = {f: keys for f, (_, keys) in self._facts().items()}
        new = {f: k for f, k in wanted.items() if t.fact_keys.get(f) != k}
        for f in list(t.fact_keys):
            if f not in wanted:
                del t.fact_keys[f], t.first[f]
        for f, keys in new.items():
            t.fact_keys[f], t.first[f] = keys, {}
        if not new or t.memory_id == 0:
            return
        after = 0
        while after < t.memory_id:
            rows = (await self.world.repo.rows_after({"memories": ("id", after, MEMORY_COLS)}, CHUNK))[
                "memories"
            ]
            if not rows:
                return
            self._match([m for m in rows if m["id"] <= t.memory_id], new)
            after = rows[-1]["id"]
            await asyncio.sleep(0)

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
            "cash": {acct[6:]: self._thinned(acct) for acct in sorted(t.cash) if acct.startswith("agent:")},
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
                "conversations": sum(t.talks.values()),
                "nodes": [{"id": a, "name": n} for a, n in sorted(names.items())],
                # count: lines between the two; conversations: how many talks they held
                "edges": [
                    {"a": a, "b": b, "count": n, "conversations": t.talks.get((a, b), 0)}
                    for (a, b), n in sorted(t.pairs.items())
                ],
            },
            "diffusion": self._diffusion(),
        }

    def _thinned(self, acct: str) -> list[Point]:
        t = self._totals
        pts = t.thinned.get(acct)
        if pts is None:
            pts = t.thinned[acct] = _thin(t.cash[acct])
        return pts

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


async def build_report(world: World) -> dict[str, Any]:
    """The whole report, read from scratch (the server keeps a `Reports` instead)."""
    return await Reports(world).report()
