"""The mayor's tasks with their status (open, completed, expired), progress, holders, the agents
credited and the reward payments; and who holds which job. Open to everyone."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.views import JobInfo, TaskInfo

PERMISSION = "viewer"


class Request(Model):
    """Optionally only the tasks of one status, or these ids."""

    status: str | None = Field(default=None, pattern=r"^(open|completed|expired)$")
    ids: list[str] | None = Field(default=None, max_length=1000)


class Response(Model):
    """Tasks, jobs (agent id -> row) and the current tick."""

    tick: int
    tasks: list[TaskInfo]
    jobs: dict[str, JobInfo] = Field(description="agent id -> job")


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    board = w.task_board
    tasks = board.listing()
    if req.status is not None:
        tasks = [t for t in tasks if t["status"] == req.status]
    if req.ids is not None:
        tasks = [t for t in tasks if t["id"] in req.ids]
    return Response(
        tick=w.clock.tick,
        tasks=[TaskInfo.model_validate(t) for t in tasks],
        jobs={aid: JobInfo.model_validate(j) for aid, j in board.job_info.items()},
    )
