"""Plan plug-in "daily": the Generative Agents plan.

Once per game day a daily plan in broad strokes (daily_plan); then an hourly schedule from the
current hour on (hourly_schedule), each slot at a building; the current slot is decomposed into a
few tasks of 5-60 minutes (decompose), handed out one per `plan()` call, each with its duration
(the agent spends that long at the task's building, without a model call). `react` asks whether an event warrants
re-planning (react); if so the schedule is rebuilt from the current hour on the next `plan()`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from agent.interfaces import Memory, Mind, Perception, PlanDecision
from agent.plan import wants_replan
from agent.prompts.context import fallback_building, perception_context, resolve_building
from agent.prompts.schemas import DailyPlan, Decomposition, HourlySchedule

log = logging.getLogger(__name__)

_RECALL = 8
_SLOT_MINUTES = 60


@dataclass(frozen=True, slots=True)
class Slot:
    """One scheduled activity: from `hour`, at `building`."""

    hour: int
    activity: str
    building: str


@dataclass(frozen=True, slots=True)
class Task:
    """One decomposed task of the current slot."""

    task: str
    minutes: int
    building: str


class DailyPlanner:
    """Daily plan, hourly schedule, decomposed tasks, re-plan on reaction."""

    name: ClassVar[str] = "daily"

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.day: int | None = None
        self.daily: list[str] = []
        self.schedule: list[Slot] = []
        self.tasks: list[Task] = []
        self.task_slot: int | None = None  # hour of the slot `tasks` decomposes
        self.task_index = 0
        self.reaction: str | None = None  # an event waiting to re-plan the schedule
        self.last: PlanDecision | None = None

    async def plan(self, mind: Mind, p: Perception, memory: Memory) -> PlanDecision:
        """The next task's building and purpose; always a building of `p.buildings` (if any)."""
        hour = max(0, min(23, p.minute_of_day // 60))
        if self.day != p.day:
            await self._plan_day(mind, p, memory)
        if self.reaction is not None or not self.schedule or self.schedule[0].hour > hour:
            await self._plan_hours(mind, p, hour)
        slot = self._slot_at(hour)
        if self.task_slot != slot.hour:
            await self._decompose(mind, p, slot)
        if self.task_index < len(self.tasks):
            task = self.tasks[self.task_index]
            self.task_index += 1
            building, purpose, minutes = task.building, task.task, task.minutes
        else:  # the slot's tasks are done: the slot's activity for the rest of its hour
            building, purpose, minutes = slot.building, slot.activity, 60 - p.minute_of_day % 60
        # a loaded schedule may name a building that has gone since: check every time
        self.last = PlanDecision(building_id=self._building(p, building), purpose=purpose, minutes=minutes)
        return self.last

    async def react(self, mind: Mind, p: Perception, memory: Memory, event: str) -> bool:
        """Whether `event` warrants re-planning; if so the schedule is redone on the next plan()."""
        if not await wants_replan(mind, p, event, self.last):
            return False
        self.reaction = event
        return True

    # ------------------------------------------------------------------ steps

    def _building(self, p: Perception, choice: str | None) -> str:
        return resolve_building(p, choice) or fallback_building(p)

    async def _plan_day(self, mind: Mind, p: Perception, memory: Memory) -> None:
        recalled = await memory.retrieve(mind, p, f"{p.goal} plan for today", k=_RECALL)
        answer = await mind.ask(
            "daily_plan", perception_context(p, memories=[r.text for r in recalled]), DailyPlan
        )
        self.daily = answer.plan if answer is not None else [f"work towards my goal: {p.goal}"]
        self.day = p.day
        self.schedule = []
        self.task_slot = None

    async def _plan_hours(self, mind: Mind, p: Perception, hour: int) -> None:
        ctx = perception_context(
            p, daily_plan=self.daily, hours=list(range(hour, 24)), reaction=self.reaction
        )
        answer = await mind.ask("hourly_schedule", ctx, HourlySchedule)
        fresh: dict[int, Slot] = {}
        if answer is not None:
            for s in answer.schedule:
                if s.hour >= hour:
                    fresh.setdefault(s.hour, Slot(s.hour, s.activity, self._building(p, s.building)))
        if hour not in fresh:  # the current hour must be covered
            earlier = [s for s in self.schedule if s.hour <= hour]
            activity = earlier[-1].activity if earlier and self.reaction is None else self.daily[0]
            fresh[hour] = Slot(hour, activity, fallback_building(p))
        kept = [s for s in self.schedule if s.hour < hour]
        self.schedule = kept + sorted(fresh.values(), key=lambda s: s.hour)
        self.reaction = None
        self.task_slot = None

    def _slot_at(self, hour: int) -> Slot:
        current = self.schedule[0]
        for s in self.schedule:
            if s.hour <= hour:
                current = s
        return current

    async def _decompose(self, mind: Mind, p: Perception, slot: Slot) -> None:
        ctx = perception_context(p, activity=slot.activity, building=slot.building, minutes=_SLOT_MINUTES)
        answer = await mind.ask("decompose", ctx, Decomposition)
        self.tasks = (
            []
            if answer is None
            else [Task(t.task, t.minutes, self._building(p, t.building)) for t in answer.tasks]
        )
        self.task_slot = slot.hour
        self.task_index = 0

    # ------------------------------------------------------------------ state

    def dump(self) -> dict[str, Any]:
        """JSON-safe state for the agents table."""
        last = (
            None
            if self.last is None
            else {"building_id": self.last.building_id, "purpose": self.last.purpose}
        )
        return {
            "day": self.day,
            "daily": self.daily,
            "schedule": [asdict(s) for s in self.schedule],
            "tasks": [asdict(t) for t in self.tasks],
            "task_slot": self.task_slot,
            "task_index": self.task_index,
            "reaction": self.reaction,
            "last": last,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore from `dump()` output; a malformed state starts the day over."""
        try:
            self.day = state.get("day")
            self.daily = [str(x) for x in state.get("daily", ())]
            self.schedule = [
                Slot(int(s["hour"]), str(s["activity"]), str(s["building"]))
                for s in state.get("schedule", ())
            ]
            self.tasks = [
                Task(str(t["task"]), int(t["minutes"]), str(t["building"])) for t in state.get("tasks", ())
            ]
            self.task_slot = state.get("task_slot")
            self.task_index = int(state.get("task_index", 0))
            self.reaction = state.get("reaction")
            last = state.get("last")
            self.last = None if not last else PlanDecision(str(last["building_id"]), str(last["purpose"]))
        except (KeyError, TypeError, ValueError) as exc:
            log.info("daily planner: ignoring malformed state (%s)", exc)
            self._reset()

    def describe(self) -> str:
        """A short human summary for the client."""
        if self.day is None or not self.schedule:
            return "daily plan: not planned yet"
        slots = "; ".join(f"{s.hour:02d}:00 {s.activity} @ {s.building}" for s in self.schedule[:6])
        now = f" | now: {self.last.purpose} @ {self.last.building_id}" if self.last else ""
        return f"day {self.day}: {slots}{now}"
