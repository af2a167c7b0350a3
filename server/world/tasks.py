"""Mayor mode: the task board, employment and company registrations.

A mayor (an agent of the town, or the player) posts tasks with a reward and a completion
condition the server checks from state every tick (`check`). Agents see open tasks in their
perception (`views`) and take one (`take`); taking a task at a building that hires makes the
agent an employee there (a row of the jobs table, title from the equipment's `job`).

Employment and wages: an employee working at a job equipment of its own workplace earns the
equipment's income plus `EMPLOYEE_BONUS_PERCENT` (rounded up); everyone else earns the plain
income. A company is registered by using an equipment operation that names "register" (the
office's registry desk); its members are the founder and the employees of that building.

Rewards: a mayor agent's reward is held in escrow (`escrow:task:<id>`) from posting; it goes to
the agents credited with the task when it completes, and back to the mayor when it expires. A
player mayor's reward is paid from `source:reward` on completion. Everything the board changes is
persisted through `world.dirty.extra` (tasks and jobs tables) and `world.dirty.meta`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from agent.interfaces import TaskView
from server.errors import ActionRefused, Conflict, InsufficientFunds, NoSuchJob, NotFound
from server.records import Changes, StoredTown
from server.world.task_specs import (
    BuildingExists,
    CompanyFounded,
    Condition,
    Employed,
    KnowsFact,
    LedgerTotal,
    TaskSpec,
    Visited,
    keywords,
)

if TYPE_CHECKING:
    from agent.state import AgentRecord
    from server.world.things import Equipment
    from server.world.world import World

log = logging.getLogger(__name__)
__all__ = [
    "BuildingExists",
    "CompanyFounded",
    "Condition",
    "Employed",
    "KnowsFact",
    "LedgerTotal",
    "TaskBoard",
    "TaskSpec",
    "Visited",
    "keywords",
]

EMPLOYEE_BONUS_PERCENT = 50  # employees earn income * 1.5 at their workplace's job equipment
PLAYER = "player"
OPEN, COMPLETED, EXPIRED = "open", "completed", "expired"


_ALNUM_RUN = re.compile(r"[^\W_]+")  # runs of characters for which str.isalnum() is true


def word_set(text: str) -> set[str]:
    """The lower-case words of `text`: what a `knows_fact` check (and the report's diffusion
    plot) looks for a fact's key words in."""
    return set(_ALNUM_RUN.findall(text.lower()))


@dataclass(slots=True)
class Task:
    """A posted task and what the board knows of its progress."""

    id: str
    spec: dict[str, Any]
    mayor: str
    posted_tick: int
    deadline_tick: int | None
    status: str = OPEN
    holders: list[str] = field(default_factory=list)
    baseline: int = 0  # ledger_total: agents' total cash at posting
    seen: list[str] = field(default_factory=list)  # visitors / knowers recorded so far
    done: int = 0
    target: int = 1
    credited: list[str] = field(default_factory=list)
    completed_tick: int | None = None
    payments: list[dict[str, Any]] = field(default_factory=list)
    history: list[list[int]] = field(default_factory=list)  # [tick, done] when progress changed

    @property
    def model(self) -> TaskSpec:
        return TaskSpec.model_validate(self.spec)

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "data": json.dumps(asdict(self), separators=(",", ":"))}

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        s = d.pop("spec")
        d.update(
            title=s["title"],
            description=s["description"],
            reward=s["reward"],
            building=s["building"],
            condition=s["condition"],
            progress=f"{self.done}/{self.target} {_unit(s['condition'])}",
        )
        return d


def _unit(c: dict[str, Any]) -> str:
    t = c["type"]
    if t == "employed":
        return f"{c.get('title') or 'employee'}s"
    return {
        "building_exists": "buildings",
        "ledger_total": "coins",
        "visited": "visitors",
        "knows_fact": "agents know",
        "company": "members",
    }[t]


class TaskBoard:
    """The tasks of mayor mode, employment and companies (installed as `world.task_board`)."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.job_info: dict[str, dict[str, Any]] = {}  # agent id -> jobs-table row
        self.companies: list[dict[str, Any]] = []  # {founder, building, tick}
        self.shifts: dict[str, int] = {}  # agent id -> shifts worked at its workplace since hired
        self._pending: Changes | None = None

    # ----------------------------------------------------------- hooks used by the world

    def views(self) -> tuple[TaskView, ...]:
        """Open tasks with a free slot, for perceptions (the mayor is named, so it is not offered
        its own tasks)."""
        out = []
        for t in self.tasks.values():
            s = t.model
            if t.status != OPEN or (s.slots is not None and len(t.holders) >= s.slots):
                continue
            out.append(
                TaskView(t.id, s.title, s.description, s.reward, s.building, tuple(t.holders), t.mayor)
            )
        return tuple(out)

    def take(self, world: World, a: AgentRecord, task_id: str) -> dict[str, Any]:
        """An agent takes a task; a hiring task employs it at the task's building."""
        t = self.tasks.get(task_id)
        if t is None or t.status != OPEN:
            raise ActionRefused(f"no open task {task_id!r}")
        s = t.model
        if a.id == t.mayor:
            raise ActionRefused("the mayor hands out tasks; it does not take them")
        if a.id in t.holders:
            raise ActionRefused(f"{a.name} already holds task {task_id}")
        if s.slots is not None and len(t.holders) >= s.slots:
            raise ActionRefused(f"task {task_id} has all the {s.slots} people it needs")
        c = s.condition
        if isinstance(c, Employed) and world.jobs.get(a.id) != c.building:
            self.hire(world, a, c.building, c.title)
        t.holders.append(a.id)
        self._save(world, t)
        return world.event("task_taken", f"{a.name} took the task: {s.title}", a.id)

    def wage(self, world: World, a: AgentRecord, eq: Equipment, income: int) -> int:
        """What an agent earns for one use: employees get a bonus at their workplace's job equipment."""
        if income > 0 and eq.spec.job and world.jobs.get(a.id) == eq.building_id:
            return income + math.ceil(income * EMPLOYEE_BONUS_PERCENT / 100)
        return income

    def allow_use(self, world: World, a: AgentRecord, eq: Equipment, op: str) -> str | None:
        """Why this use is refused, if it is: an agent registers a company once."""
        if "register" in op.lower() and any(co["founder"] == a.id for co in self.companies):
            return f"{a.name} has already registered a company"
        return None

    def on_use(self, world: World, a: AgentRecord, eq: Equipment, op: str) -> None:
        """Record shifts worked, company registrations and visits."""
        if eq.spec.job and world.jobs.get(a.id) == eq.building_id:
            self.shifts[a.id] = self.shifts.get(a.id, 0) + 1
            world.dirty.meta["job_shifts"] = dict(self.shifts)
        if "register" in op.lower():
            self.companies.append({"founder": a.id, "building": eq.building_id, "tick": world.clock.tick})
            world.dirty.meta["companies"] = list(self.companies)
            world.event("company", f"{a.name} registered a company", a.id)
        for t in self.tasks.values():
            c = t.model.condition
            if (
                t.status == OPEN
                and isinstance(c, Visited)
                and c.building == eq.building_id
                and (c.equipment is None or c.equipment == eq.spec.name)
            ):
                self._seen(world, t, a.id, c.agent)

    def check(self, world: World) -> list[dict[str, Any]]:
        """Update every open task's progress; complete or expire it. Returns events for the delta."""
        events: list[dict[str, Any]] = []
        tick = world.clock.tick
        for t in self.tasks.values():
            if t.status != OPEN:
                continue
            s = t.model
            done, target, credited = self._progress(world, t, s)
            if done != t.done or target != t.target:
                t.done, t.target = done, target
                t.history.append([tick, done])
                self._save(world, t)
            if done >= target:
                events.append(self._complete(world, t, s, credited))
            elif t.deadline_tick is not None and tick >= t.deadline_tick:
                events.append(self._expire(world, t, s))
        return events

    def restore(self, world: World, snap: StoredTown) -> None:
        """Load tasks, jobs and companies as of the last commit."""
        self.tasks = {}
        for row in snap.tasks:
            d = json.loads(row["data"])
            self.tasks[d["id"]] = Task(**d)
        self.job_info = {r["agent_id"]: dict(r) for r in snap.jobs}
        self.companies = list(snap.meta.get("companies", []))
        self.shifts = dict(snap.meta.get("job_shifts", {}))

    # ------------------------------------------------------------------- commands

    def post(self, world: World, spec: TaskSpec, mayor: str) -> Task:
        """Post a task. A mayor agent's reward goes to escrow now; raises without changing anything."""
        if mayor != PLAYER:
            world.agent(mayor)
        c = spec.condition
        for b in {spec.building, getattr(c, "building", None)} - {None}:
            if b not in world.buildings:
                raise NotFound(f"no building {b!r}; known: {sorted(world.buildings)}")
        if isinstance(c, BuildingExists) and c.template and c.template not in world.town.templates:
            raise NotFound(f"no building template {c.template!r}; known: {sorted(world.town.templates)}")
        if isinstance(c, Employed) and not self._job_equipment(world, c.building, c.title):
            raise NoSuchJob(
                f"{world.buildings[c.building].name} has no equipment with job {c.title or '(any)'}"
            )
        if mayor != PLAYER and spec.reward > world.ledger.balance(f"agent:{mayor}"):
            raise InsufficientFunds(
                f"mayor {mayor} has {world.ledger.balance(f'agent:{mayor}')} coins, "
                f"the reward is {spec.reward}"
            )
        if spec.building is None and hasattr(c, "building"):
            spec = spec.model_copy(update={"building": c.building})
        if isinstance(c, Employed) and spec.slots is None:
            spec = spec.model_copy(update={"slots": c.count})
        tick = world.clock.tick
        deadline = None
        if spec.deadline_ticks is not None:
            deadline = tick + spec.deadline_ticks
        if spec.deadline_minutes is not None:
            d2 = tick + math.ceil(spec.deadline_minutes * 60 / world.clock.tick_seconds)
            deadline = d2 if deadline is None else min(deadline, d2)
        n = max((int(k[1:]) for k in self.tasks if k[1:].isdigit()), default=0) + 1
        t = Task(
            f"t{n}", spec.model_dump(mode="json"), mayor, tick, deadline, baseline=self._agents_total(world)
        )
        if mayor != PLAYER and spec.reward:
            world.pay(f"agent:{mayor}", f"escrow:task:{t.id}", spec.reward, f"reward in escrow for {t.id}")
        self.tasks[t.id] = t
        t.done, t.target, _ = self._progress(world, t, spec)
        t.history.append([tick, t.done])
        self._save(world, t)
        world.event(
            "task_posted",
            f"the mayor posted a task: {spec.title} (reward {spec.reward})",
            None if mayor == PLAYER else mayor,
        )
        return t

    def hire(
        self, world: World, a: AgentRecord, building_id: str, title: str | None = None
    ) -> dict[str, Any]:
        """Employ an agent at a building (leaving any earlier job). Returns its jobs-table row."""
        eqs = self._job_equipment(world, building_id, title)
        if not eqs:
            raise Conflict(f"{building_id} has no job {title or ''}".strip())
        eq = eqs[0]
        assert eq.spec.job is not None
        row = {
            "agent_id": a.id,
            "building_id": building_id,
            "title": eq.spec.job,
            "wage": eq.spec.income + math.ceil(eq.spec.income * EMPLOYEE_BONUS_PERCENT / 100),
            "since_tick": world.clock.tick,
        }
        world.jobs[a.id] = building_id
        self.job_info[a.id] = row
        self.shifts[a.id] = 0
        world.dirty.meta["job_shifts"] = dict(self.shifts)
        ch = self._batch(world)
        ch.jobs[:] = [r for r in ch.jobs if r["agent_id"] != a.id] + [row]
        ch.jobs_removed[:] = [x for x in ch.jobs_removed if x != a.id]
        world.event(
            "hired", f"{a.name} was hired as {eq.spec.job} at {world.buildings[building_id].name}", a.id
        )
        return row

    def quit(self, world: World, agent_id: str) -> None:
        """End an agent's employment."""
        if agent_id not in world.jobs:
            raise NotFound(f"{agent_id} has no job")
        del world.jobs[agent_id]
        self.job_info.pop(agent_id, None)
        self.shifts.pop(agent_id, None)
        world.dirty.meta["job_shifts"] = dict(self.shifts)
        ch = self._batch(world)
        ch.jobs[:] = [r for r in ch.jobs if r["agent_id"] != agent_id]
        ch.jobs_removed.append(agent_id)
        world.event("quit", f"{agent_id} left their job", agent_id)

    def listing(self) -> list[dict[str, Any]]:
        return [t.public() for t in self.tasks.values()]

    # ------------------------------------------------------------------- internals

    @staticmethod
    def _job_equipment(world: World, building_id: str, title: str | None) -> list[Equipment]:
        b = world.buildings.get(building_id)
        if b is None:
            return []
        return [e for e in b.equipment if e.spec.job and (title is None or e.spec.job == title)]

    @staticmethod
    def _agents_total(world: World) -> int:
        return sum(a.cash for a in world.agents.values())

    def _batch(self, world: World) -> Changes:
        """The board's one Changes batch in the world's pending commit (one row per key)."""
        ch = self._pending
        if ch is None or not any(x is ch for x in world.dirty.extra):
            ch = self._pending = Changes()
            world.dirty.extra.append(ch)
        return ch

    def _save(self, world: World, t: Task) -> None:
        ch = self._batch(world)
        ch.tasks[:] = [r for r in ch.tasks if r["id"] != t.id] + [t.row()]

    def _seen(self, world: World, t: Task, agent_id: str, only: str | None) -> None:
        if agent_id not in t.seen and (only is None or only == agent_id):
            t.seen.append(agent_id)
            self._save(world, t)

    def _employees(self, world: World, building: str, title: str | None, shifts: int) -> list[str]:
        return sorted(
            aid
            for aid, b in world.jobs.items()
            if b == building
            and aid in world.agents
            and (title is None or self.job_info.get(aid, {}).get("title") == title)
            and self.shifts.get(aid, 0) >= shifts
        )

    def _progress(self, world: World, t: Task, s: TaskSpec) -> tuple[int, int, list[str]]:
        """(done, target, credited agents) for a task right now."""
        c = s.condition
        if isinstance(c, BuildingExists):
            found = [
                b
                for b in world.buildings.values()
                if (c.template is None or b.template.name == c.template)
                and (c.kind is None or b.template.kind == c.kind)
                and (not c.built_after_post or b.created_tick >= t.posted_tick)
            ]
            owners = [b.owner for b in found if b.owner in world.agents]
            return len(found), c.count, [o for o in owners if o] or list(t.holders)
        if isinstance(c, Employed):
            staff = self._employees(world, c.building, c.title, c.shifts)
            return len(staff), c.count, staff
        if isinstance(c, LedgerTotal):
            return self._agents_total(world), math.ceil(t.baseline * c.percent / 100), list(t.holders)
        if isinstance(c, Visited):
            b = world.buildings.get(c.building)
            if b is not None and c.equipment is None:
                for a in world.agents.values():
                    if (a.x, a.y) == b.entrance:
                        self._seen(world, t, a.id, c.agent)
            return len(t.seen), 1 if c.agent else c.count, list(t.seen)
        if isinstance(c, KnowsFact):
            keys = {k.lower() for k in (c.keywords or keywords(c.fact))}
            for a in world.agents.values():
                if (
                    a.id not in t.seen
                    and a.mem is not None
                    and any(keys <= word_set(m.text) for m in a.mem.recent(40))
                ):
                    t.seen.append(a.id)
            return len(t.seen), c.count, [x for x in t.seen if x != t.mayor]
        best: list[str] = []
        for co in self.companies:
            if co["building"] == c.building and co["tick"] >= t.posted_tick and co["founder"] in world.agents:
                members = sorted({co["founder"], *self._employees(world, c.building, None, 0)})
                if len(members) > len(best):
                    best = members
        return len(best), c.members, best

    def _complete(self, world: World, t: Task, s: TaskSpec, credited: list[str]) -> dict[str, Any]:
        tick = world.clock.tick
        src = "source:reward" if t.mayor == PLAYER else f"escrow:task:{t.id}"
        people = [a for a in dict.fromkeys(credited) if a in world.agents and a != t.mayor]
        if s.reward and people:
            share, rest = divmod(s.reward, len(people))
            for i, aid in enumerate(people):
                amount = share + (1 if i < rest else 0)
                if amount:
                    world.pay(src, f"agent:{aid}", amount, f"reward for task {t.id}: {s.title}"[:200])
                    t.payments.append({"tick": tick, "src": src, "dst": f"agent:{aid}", "amount": amount})
        elif s.reward and t.mayor != PLAYER:
            self._refund(world, t, s.reward, "no one to credit")
        t.status, t.completed_tick, t.credited = COMPLETED, tick, people
        self._save(world, t)
        log.info("task %s completed at tick %d by %s", t.id, tick, people)
        who = ", ".join(world.agents[a].name for a in people) or "the town"
        return world.event(
            "task_completed", f"task done: {s.title} (by {who})", people[0] if people else None
        )

    def _expire(self, world: World, t: Task, s: TaskSpec) -> dict[str, Any]:
        if s.reward and t.mayor != PLAYER:
            self._refund(world, t, s.reward, "task expired")
        t.status = EXPIRED
        self._save(world, t)
        return world.event("task_expired", f"task expired: {s.title}")

    def _refund(self, world: World, t: Task, amount: int, why: str) -> None:
        src, dst = f"escrow:task:{t.id}", f"agent:{t.mayor}"
        if t.mayor not in world.agents:
            dst = "sink:consumption"
        world.pay(src, dst, amount, f"reward of {t.id} returned: {why}")
        t.payments.append({"tick": world.clock.tick, "src": src, "dst": dst, "amount": amount})
