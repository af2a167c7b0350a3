"""The mayor posts a task (admin): a title, a reward, an optional building and deadline, and a
completion condition the server checks every tick (`building_exists`, `employed`, `ledger_total`,
`visited`, `knows_fact`, `company`). `mayor` is an agent id (its reward is held in escrow from now)
or "player" (the reward is paid from `source:reward`). Agents see the task in their perception."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.protocol import Model
from server.views import TaskInfo
from server.world.tasks import TaskSpec

PERMISSION = "admin"


class Request(Model):
    """The task, and who hands it out."""

    mayor: str = Field(default="player", min_length=1, max_length=64, description='agent id or "player"')
    task: TaskSpec


class Response(Model):
    """The posted task, with its id and progress."""

    task: TaskInfo


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    board = w.task_board
    async with w.lock:
        t = board.post(w, req.task, req.mayor)
        await w.commit()
    return Response(task=TaskInfo.model_validate(t.public()))
