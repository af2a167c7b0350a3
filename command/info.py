"""Server health and facts: version, town name, tick, game clock, counts, the commands it knows,
and the plan/memory modules and LLM names an agent may choose. Open to everyone."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model

PERMISSION = "viewer"


class Request(Model):
    """No fields."""


class Response(Model):
    """What the server is and what it offers."""

    server: str
    version: str
    town: str
    tick: int
    clock: str
    agents: int
    buildings: int
    paused: bool
    role: str
    commands: list[str]
    plan_modules: list[str]
    memory_modules: list[str]
    llms: list[str]


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    return Response(
        server="aitown",
        version="0.1.0",
        town=w.town.map.name,
        tick=w.clock.tick,
        clock=str(w.clock),
        agents=len(w.agents),
        buildings=len(w.buildings),
        paused=ctx.services.paused,
        role=ctx.session.role.name.lower(),
        commands=sorted(ctx.services.router.commands),
        plan_modules=list(w.plugins.planner_names()),
        memory_modules=list(w.plugins.memory_names()),
        llms=w.llm_names,
    )
