"""The player's avatar says a line in its open conversation (one an agent started with it, or it
started with an agent in sight by naming `agent_id`). Turns alternate: the agent answers on its
next turn in a tick. `end` says goodbye; `news` is a piece of news the agent learns and may
pass on in its own conversations. A conversation the player leaves silent for 30 ticks, or
walks away from (`move_to`), ends. Subscribers get a `line` push (the conversation, the avatar, the text, whether it ended); the
agents' answers come in the ticks' chat events."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import ActionRefused
from server.protocol import Model
from server.world import avatar, talk

PERMISSION = "player"


class Request(Model):
    """The line, and whom to start a conversation with if the avatar is in none."""

    text: str = Field(min_length=1, max_length=400)
    agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    end: bool = False  # a goodbye: the conversation ends with this line
    news: str | None = Field(
        default=None, max_length=300, description="a piece of news the line tells; the agent may pass it on"
    )


class Response(Model):
    """The conversation the line went to."""

    conversation_id: str
    ended: bool


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    async with w.lock:
        a = avatar.mine(w, ctx.session.player)
        if a.conversation is None:
            if req.agent_id is None:
                raise ActionRefused(f"{a.name} is not in a conversation; name an agent_id in sight")
            other = w.agent(req.agent_id)
            ev = talk.start(w, a, other, req.text, req.news)
            if req.end:
                talk.close(w, w.conversations[a.conversation or ""], "goodbye")
        else:
            ev = talk.say(w, a, req.text, end=req.end, news=req.news)
        cid = str(ev["conversation_id"])
        ended = cid not in w.conversations
        await w.commit()
    ctx.services.hub.publish(
        "line", {"conversation_id": cid, "agent_id": a.id, "text": ev["text"], "ended": ended}
    )
    return Response(conversation_id=cid, ended=ended)
