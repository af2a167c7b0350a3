"""A mayor agent thinks (admin): given a town goal, the agent with the mayor role decides with its
own LLM call (prompt kind `mayor_plan`) which tasks to post, with rewards from its own cash held
in escrow, seeing how its earlier tasks went. Proposals the server refuses are skipped with the
reason. mayor.py calls this for a scenario with a `goal`."""

from __future__ import annotations

from pydantic import Field

from agent.prompts.schemas import MayorPlan
from server.context import Context
from server.errors import NotFound
from server.protocol import Model
from server.views import TaskInfo
from server.world import mayor_mind

PERMISSION = "admin"


class Request(Model):
    """The mayor agent and the town's goal."""

    mayor: str = Field(min_length=1, max_length=64, description="agent id of the mayor")
    goal: str = Field(min_length=1, max_length=500, description='e.g. "grow the town\'s total cash by 20%"')


class Response(Model):
    """The tasks posted now, the proposals skipped and why, the mayor's reason."""

    posted: list[TaskInfo]
    skipped: list[str]
    reason: str
    failed: bool  # the model failed twice; nothing was posted


async def handle(ctx: Context, req: Request) -> Response:
    w, models = ctx.world, ctx.services.models
    async with w.lock:
        a = w.agent(req.mayor)
        prompt_context = mayor_mind.context(w, a, req.goal)
    mind = models.mind(a)
    with models.metering() as meter:  # a tick running meanwhile keeps its own calls
        plan = await mind.ask("mayor_plan", prompt_context, MayorPlan)
    async with w.lock:
        if w.agents.get(req.mayor) is not a:  # deleted (or the town reset) while it thought
            raise NotFound(f"agent {req.mayor!r} left the town while thinking")
        out = mayor_mind.post(w, a, plan) if plan is not None else mayor_mind.Outcome()
        for t in out.posted:
            w.event("mayor", f"{a.name} (mayor) posted {t['id']}: {t['title']}", a.id)
        w.book_calls(meter.calls)
        await w.commit()
    return Response(
        posted=[TaskInfo.model_validate(t) for t in out.posted],
        skipped=out.skipped,
        reason=out.reason,
        failed=plan is None,
    )
