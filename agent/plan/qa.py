"""Plan plug-in "qa": the AgentSims three-role plan.

One role asks questions about the goal (qa_ask), one answers them from memory and perception
(qa_answer), one turns the answers into {building, purpose, minutes} (qa_choose): the visit lasts that long. Three dependent calls
per plan; a failed step falls back (default questions, no answers, a deterministic building).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from agent.interfaces import Memory, Mind, Perception, PlanDecision
from agent.plan import wants_replan
from agent.prompts.context import fallback_building, perception_context, resolve_building
from agent.prompts.schemas import QAAnswers, QAChoice, QAQuestions

log = logging.getLogger(__name__)

_RECALL = 8
_DEFAULT_QUESTIONS = ("Which building helps me most with my goal right now?", "What can I afford?")


class QAPlanner:
    """Chooses the next building by asking, answering and deciding (three roles, one model)."""

    name: ClassVar[str] = "qa"

    def __init__(self) -> None:
        self.last: PlanDecision | None = None
        self.questions: list[str] = []
        self.answers: list[str] = []
        self.plans = 0
        self.fallbacks = 0

    async def plan(self, mind: Mind, p: Perception, memory: Memory) -> PlanDecision:
        """The next building and purpose; always a building of `p.buildings` (when there is one)."""
        recalled = await memory.retrieve(mind, p, p.goal, k=_RECALL)
        ctx = perception_context(p, memories=[r.text for r in recalled])
        asked = await mind.ask("qa_ask", ctx, QAQuestions)
        questions = asked.questions if asked is not None else list(_DEFAULT_QUESTIONS)
        ctx["questions"] = questions
        answered = await mind.ask("qa_answer", ctx, QAAnswers)
        answers = answered.answers if answered is not None else []
        ctx["answers"] = answers
        chosen = await mind.ask("qa_choose", ctx, QAChoice)
        building = resolve_building(p, chosen.building if chosen is not None else None)
        if building is None or chosen is None:
            building = fallback_building(p)
            purpose = chosen.purpose if chosen is not None else f"keep working towards: {p.goal}"
            minutes = 30
            self.fallbacks += 1
            log.info("agent %s: qa plan fell back to building %r", p.agent_id, building)
        else:
            purpose, minutes = chosen.purpose, chosen.minutes
        self.questions, self.answers = list(questions), list(answers)
        self.last = PlanDecision(building_id=building, purpose=purpose, minutes=minutes)
        self.plans += 1
        return self.last

    async def react(self, mind: Mind, p: Perception, memory: Memory, event: str) -> bool:
        """Whether `event` should interrupt the current plan (asks the react kind)."""
        if not await wants_replan(mind, p, event, self.last):
            return False
        self.last = None
        return True

    def dump(self) -> dict[str, Any]:
        """JSON-safe state for the agents table."""
        last = (
            None
            if self.last is None
            else {"building_id": self.last.building_id, "purpose": self.last.purpose}
        )
        return {
            "last": last,
            "questions": self.questions,
            "answers": self.answers,
            "plans": self.plans,
            "fallbacks": self.fallbacks,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore from `dump()` output; unknown or malformed parts are ignored."""
        last = state.get("last")
        if isinstance(last, Mapping) and isinstance(last.get("building_id"), str):
            self.last = PlanDecision(building_id=last["building_id"], purpose=str(last.get("purpose", "")))
        self.questions = [str(q) for q in state.get("questions", ()) or ()]
        self.answers = [str(a) for a in state.get("answers", ()) or ()]
        self.plans = int(state.get("plans", 0) or 0)
        self.fallbacks = int(state.get("fallbacks", 0) or 0)

    def describe(self) -> str:
        """A short human summary for the client."""
        if self.last is None:
            return "qa plan: not planned yet"
        return f"qa plan: go to {self.last.building_id} to {self.last.purpose}"
