"""An agent leaves its job (admin, or the player owning the agent)."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import Forbidden
from server.protocol import Model

PERMISSION = "player"


class Request(Model):
    """Whose job ends."""

    agent_id: str = Field(min_length=1, max_length=64)


class Response(Model):
    """The workplace the agent left."""

    agent_id: str
    building_id: str


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    board = w.task_board
    async with w.lock:
        a = w.agent(req.agent_id)
        if not ctx.session.may_act_as(a.owner):
            raise Forbidden(f"agent {a.id} is not yours")
        building = w.jobs.get(a.id, "")
        board.quit(w, a.id)
        await w.commit()
    return Response(agent_id=a.id, building_id=building)
