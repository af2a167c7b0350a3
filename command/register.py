"""Create an agent: name, bio, goal, starting cash, sprite, LLM, plan module and memory module
(by name; an unknown name is refused with the valid ones). Players own the agents they create;
starting cash above `max_player_cash` needs the admin. The new agent is pushed to subscribers."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import Forbidden, LimitReached, NotFound
from server.protocol import Model
from server.session import Role
from server.views import AgentInfo
from server.world import population
from server.world.names import name_key

PERMISSION = "player"
MAX_PLAYER_CASH = 500


class Request(Model):
    """The new agent."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[\w .'\-]+$")
    bio: str = Field(min_length=1, max_length=2000)
    goal: str = Field(min_length=1, max_length=500)
    cash: int = Field(default=100, ge=0, le=1_000_000)
    sprite: str = Field(default="default", max_length=32, pattern=r"^[\w\-]+$")
    llm: str = Field(default="default", max_length=64)
    plan: str = Field(default="qa", max_length=32)
    memory: str = Field(default="long_term", max_length=32)
    home: str | None = Field(
        default=None,
        max_length=64,
        description="building id to start at; in a town with beds, the home to live in",
    )


class Response(Model):
    """The created agent."""

    agent: AgentInfo


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    if req.cash > MAX_PLAYER_CASH and ctx.session.role < Role.ADMIN:
        raise Forbidden(f"players may give an agent at most {MAX_PLAYER_CASH} starting cash")
    async with w.lock:
        at = None
        if req.home is not None:
            if req.home not in w.buildings:
                raise NotFound(f"no building {req.home!r}")
            at = w.buildings[req.home].entrance
        owner = ctx.session.player if ctx.session.role is Role.PLAYER else (ctx.session.player or None)
        quota = ctx.settings.limits.agents_per_player
        if ctx.session.role is Role.PLAYER and owner is not None:
            key = name_key(owner)
            owned = sum(1 for x in w.agents.values() if x.owner is not None and name_key(x.owner) == key)
            if owned >= quota:
                raise LimitReached(f"player {owner!r} owns {owned} agents, the most one player may own")
        a = population.add_agent(
            w,
            req.name,
            req.bio,
            req.goal,
            cash=req.cash,
            sprite=req.sprite,
            llm=req.llm,
            plan=req.plan,
            memory=req.memory,
            at=at,
            owner=owner,
            home=req.home,
        )
        w.event("register", f"{a.name} arrived in town", a.id)
        await w.commit()
    ctx.services.hub.publish("agent_added", {"agent": a.public()})
    return Response(agent=AgentInfo.model_validate(a.public()))
