"""Ask an agent a question and get its answer in character, from its memory, storing nothing.

The interview path is read-only by construction: it retrieves from the agent's memory plug-in
(`retrieve` only reads; it may embed records loaded without a vector, which only fills the
in-memory matrix), renders the `interview` prompt kind and asks the agent's model inside its own
`metering()` block, whose calls are returned to the caller and never queued for the database. It
writes no memory, chat, event, ledger entry or `llm_calls` row, touches no plan or state, and
publishes nothing. Probes (server/runs/probes.py) ask their questions through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.prompts.context import persona_context
from agent.prompts.schemas import Utterance
from agent.state import AgentRecord
from server.context import Services
from server.world.rules import Scene

FALLBACK = "I would rather not say right now."


@dataclass(frozen=True, slots=True)
class InterviewResult:
    """An agent's answer to one question, the memories it drew on, and what the model cost."""

    agent_id: str
    question: str
    answer: str
    failed: bool  # the model failed; `answer` is the fallback
    memories: tuple[str, ...]
    calls: int
    tokens: int
    cost_usd: float


async def interview(services: Services, a: AgentRecord, question: str, k: int = 8) -> InterviewResult:
    """`a`'s answer to `question` from its `k` most fitting memories; nothing is stored."""
    models = services.models
    mind = models.mind(a)
    p = Scene(services.world).perceive(a)
    with models.metering() as meter:  # its calls stay here: a tick meanwhile keeps its own
        memories = await a.mem.retrieve(mind, p, question, k=k) if a.mem is not None else []
        texts = tuple(m.text for m in memories)
        ans = await mind.ask(
            "interview", persona_context(p, memories=list(texts), question=question), Utterance
        )
    return InterviewResult(
        agent_id=a.id,
        question=question,
        answer=ans.text if ans is not None else FALLBACK,
        failed=ans is None,
        memories=texts,
        calls=len(meter.calls),
        tokens=sum(c.prompt_tokens + c.completion_tokens for c in meter.calls),
        cost_usd=sum(c.cost_usd for c in meter.calls),
    )
