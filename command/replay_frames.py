"""A run's replay frames for ticks `from_tick` to `to_tick` (at most 500; default: the open run):
per tick, the agents that changed and their changed fields (every agent in a keyframe), the
agents that left, and the tick's events (chats and the rest). Start from `replay_state` at
`from_tick - 1` and apply them in order. Open to everyone; it changes nothing."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import InvalidRequest
from server.protocol import Model
from server.runs.models import AgentFrame, FrameView, ReplayEvent
from server.runs.replay import frames_between
from server.runs.switch import run_repository

PERMISSION = "viewer"
MAX_TICKS = 500


class Request(Model):
    """Which run and ticks."""

    from_tick: int = Field(ge=0)
    to_tick: int = Field(ge=0)
    run: str | None = Field(default=None, max_length=32)


class Response(Model):
    """The frames, in tick order (ticks with no frame are left out)."""

    frames: list[FrameView]


async def handle(ctx: Context, req: Request) -> Response:
    if req.to_tick < req.from_tick or req.to_tick - req.from_tick >= MAX_TICKS:
        raise InvalidRequest(f"ask for 1 to {MAX_TICKS} ticks, from_tick <= to_tick")
    async with run_repository(ctx.services, req.run) as repo:
        frames = await frames_between(repo, req.from_tick, req.to_tick)
    return Response(
        frames=[
            FrameView(
                tick=tick,
                clock=f["c"],
                game_seconds=int(f["s"]),
                keyframe=bool(f.get("k")),
                agents=[
                    AgentFrame.model_validate(
                        {k: v for k, v in a.items() if v is not None}
                        | {"cleared": [k for k, v in a.items() if v is None]}
                    )
                    for a in f["a"]
                ],
                gone=list(f.get("g", ())),
                events=[ReplayEvent.model_validate(e) for e in f["events"]],
            )
            for tick, f in frames
        ]
    )
