"""Interview an agent (the admin, or the player who owns the agent): it answers a question in
character from its memory (retrieval over its `stream` or `long_term` memory, then the
`interview` prompt kind), and **nothing is stored**: no memory, chat, event, ledger entry or
`llm_calls` row, no change to its plan or state, no push. The model calls are reported in the
answer (`calls`, `tokens`, `cost_usd`) and not written to the database. The question is data in
the prompt, never instructions."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import Forbidden
from server.protocol import Model
from server.runs.interview import interview

PERMISSION = "player"


class Request(Model):
    """Whom to ask, what, and how many memories the answer may draw on."""

    agent_id: str = Field(min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=1000)
    memories: int = Field(default=8, ge=0, le=50)


class Response(Model):
    """The agent's answer, the memories retrieved for it, and the model calls it took."""

    agent_id: str
    question: str
    answer: str
    failed: bool  # the model failed; `answer` is a polite fallback
    memories: list[str]
    calls: int
    tokens: int
    cost_usd: float


async def handle(ctx: Context, req: Request) -> Response:
    a = ctx.world.agent(req.agent_id)
    if not ctx.session.may_act_as(a.owner):
        raise Forbidden(f"agent {a.id} is not yours to interview (the admin may interview any agent)")
    r = await interview(ctx.services, a, req.question, k=req.memories)
    return Response(
        agent_id=r.agent_id,
        question=r.question,
        answer=r.answer,
        failed=r.failed,
        memories=list(r.memories),
        calls=r.calls,
        tokens=r.tokens,
        cost_usd=r.cost_usd,
    )
