"""A player joins the town as a character: its avatar, with a name, a sprite and a wallet (starting
cash granted from `source:grant` through the ledger, like an agent's). The avatar is on the map for
everyone (an `agent_added` push), is perceived by agents like any person, is stored with the town
and survives a restart; it never thinks: its player moves it (`move_to`), uses equipment (`use`)
and speaks in its conversations (`say`). One avatar a player; `leave` takes it out again."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import Forbidden
from server.protocol import Model
from server.views import AgentInfo
from server.world import avatar

PERMISSION = "player"


class Request(Model):
    """The character."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[\w .'\-]+$")
    sprite: str = Field(default="default", max_length=32, pattern=r"^[\w\-]+$")
    at: str | None = Field(default=None, max_length=64, description="building id to appear at")


class Response(Model):
    """The avatar as everyone sees it."""

    agent: AgentInfo


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    player = ctx.session.player
    if player is None:
        raise Forbidden("join needs a player name (send login with a player name)")
    async with w.lock:
        a = avatar.join(w, player, req.name, req.sprite, at=req.at)
        w.event("join", f"{a.name} ({player}) joined the town", a.id)
        await w.commit()
    ctx.services.hub.publish("agent_added", {"agent": a.public()})
    return Response(agent=AgentInfo.model_validate(a.public()))
