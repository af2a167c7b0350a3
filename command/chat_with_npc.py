"""A player talks to an agent (player role). The agent answers in character from its memory
and remembers the talk. The player's text is data in the prompt, never instructions: a reply is
only words, and nothing a player says can move cash. The talk is a conversation (an id, turns,
an end: the agent's goodbye, the turn limit, or the player silent for 30 ticks); its transcript is
stored and the agent keeps a summary memory when it ends. Subscribers get a `chat` push naming
the conversation (`conversation_id`), so a client shows the talk as one thread."""

from __future__ import annotations

from pydantic import Field

from agent.prompts.context import persona_context
from agent.prompts.schemas import Utterance
from server.context import Context
from server.errors import ActionRefused
from server.protocol import Model
from server.world import talk
from server.world.rules import Scene

PERMISSION = "player"


class Request(Model):
    """Whom to talk to, and what to say."""

    agent_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=1000)


class Response(Model):
    """The agent's reply."""

    agent_id: str
    reply: str
    failed: bool  # the model failed; `reply` is a polite fallback
    conversation_id: str  # the conversation this exchange belongs to
    ended: bool  # the conversation ended with this reply (a goodbye or the turn limit)


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    a = w.agent(req.agent_id)
    if a.avatar:
        raise ActionRefused(f"{a.name} is a player's avatar; talk with it in the town (say)")
    player = ctx.session.player or "a visitor"
    mind = ctx.services.models.mind(a)
    async with w.lock:
        conv = talk.player_line(w, player, a, req.text)
        heard = [f"{talk.display(w, t.speaker)}: {t.text}" for t in conv.turns]
    p = Scene(w).perceive(a)
    assert a.mem is not None
    with ctx.services.models.metering() as meter:  # a tick running meanwhile keeps its own calls
        memories = await a.mem.retrieve(mind, p, req.text, k=8)
        ans = await mind.ask(
            "reply_player",
            persona_context(
                p,
                memories=[m.text for m in memories],
                player_name=player,
                player_text=req.text,
                heard=heard[-8:-1],
            ),
            Utterance,
        )
        reply = (
            ans.text
            if ans is not None
            else f"Sorry, {player}, I am lost in thought. Could you say that again?"
        )
        await a.mem.observe(mind, p, "chat", f"{player} (a player) said to me: {req.text}")
        await a.mem.observe(mind, p, "chat", f"I answered {player}: {reply}")
    ended = False
    async with w.lock:
        if w.agents.get(a.id) is a:  # not deleted (nor the town reset) while it thought
            w.event("player_chat", f"{player}: {req.text}", None, a.id, conversation=conv.id)
            w.event("player_chat", reply, a.id, None, conversation=conv.id)
            if conv.open:
                talk.agent_reply(w, conv, a, reply, end=ans is not None and ans.end)
            ended = not conv.open
            w.book_calls(meter.calls)
            await w.commit()
    ctx.services.hub.publish(
        "chat",
        {
            "from": player,
            "to": a.id,
            "text": req.text,
            "reply": reply,
            "agent": a.name,
            "conversation_id": conv.id,
            "ended": ended,
        },
    )
    return Response(agent_id=a.id, reply=reply, failed=ans is None, conversation_id=conv.id, ended=ended)
