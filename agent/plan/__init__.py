"""Plan plug-ins (`qa`, `daily`) and what they share."""

from __future__ import annotations

from agent.interfaces import Mind, Perception, PlanDecision
from agent.prompts.context import perception_context
from agent.prompts.schemas import Reaction


async def wants_replan(mind: Mind, p: Perception, event: str, last: PlanDecision | None) -> bool:
    """Ask the model (the `react` kind) whether `event` should interrupt the current plan."""
    current = last.purpose if last is not None else "nothing yet"
    answer = await mind.ask("react", perception_context(p, event=event, current=current), Reaction)
    return answer is not None and answer.replan
