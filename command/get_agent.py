"""One agent in full: its record, current plan, recent memories, recent chats and cash history
(ledger entries). Open to everyone."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.views import AgentInfo, ChatLine, LedgerLine, MemoryInfo

PERMISSION = "viewer"


class Request(Model):
    """Which agent, and how much history."""

    agent_id: str = Field(min_length=1, max_length=64)
    memories: int = Field(default=20, ge=0, le=500)
    ledger: int = Field(default=50, ge=0, le=5000)


class Response(Model):
    """The agent, its plan, memories and cash history."""

    agent: AgentInfo
    plan: str
    memories: list[MemoryInfo]
    chats: list[ChatLine]
    ledger: list[LedgerLine]


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    a = w.agent(req.agent_id)
    mems = a.mem.recent(req.memories) if a.mem is not None and req.memories else []
    acct = f"agent:{a.id}"
    entries = await w.repo.ledger_entries(acct, last=req.ledger or 1) + [
        e for e in w.ledger.pending if acct in (e.src, e.dst)
    ]
    chats = await w.repo.chats_of(a.id, 20)
    return Response(
        agent=AgentInfo.model_validate(a.public()),
        plan=a.planner.describe() if a.planner is not None else "",
        memories=[
            MemoryInfo(kind=m.kind, text=m.text, tick=m.tick, importance=m.importance, subject=m.subject)
            for m in mems
        ],
        chats=[ChatLine.model_validate(c) for c in chats],
        ledger=[
            LedgerLine(tick=e.tick, src=e.src, dst=e.dst, amount=e.amount, reason=e.reason)
            for e in entries[-req.ledger :]
        ]
        if req.ledger
        else [],
    )
