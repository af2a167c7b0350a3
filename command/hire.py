"""Employ an agent at a building (admin): the job title comes from the building's equipment `job`
(cook, barista, clerk, nurse, craftsman). An employee working at its workplace's job equipment
earns the income plus a bonus (see docs/mayor.md). Replaces any earlier job."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import NotFound
from server.protocol import Model
from server.views import JobInfo

PERMISSION = "admin"


class Request(Model):
    """Who, where, and which job (default: the building's first job)."""

    agent_id: str = Field(min_length=1, max_length=64)
    building_id: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=64)


class Response(Model):
    """The jobs-table row."""

    job: JobInfo


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    board = w.task_board
    async with w.lock:
        a = w.agent(req.agent_id)
        if req.building_id not in w.buildings:
            raise NotFound(f"no building {req.building_id!r}")
        row = board.hire(w, a, req.building_id, req.title)
        await w.commit()
    return Response(job=JobInfo.model_validate(row))
