"""The player's avatar walks to a building's entrance or a tile, along the A* path, `move_tiles`
tiles a tick like agents (the tick's walk; each tick's push shows it). Walking off ends the
avatar's conversation ("walked away") and the use it was busy with. A tile that is not walkable or
cannot be reached is refused (`action_refused`) and nothing changes."""

from __future__ import annotations

from pydantic import Field, model_validator

from server.context import Context
from server.protocol import Model
from server.world import avatar

PERMISSION = "player"


class Request(Model):
    """Where to: a building, or a tile (x, y)."""

    building_id: str | None = Field(default=None, min_length=1, max_length=64)
    x: int | None = Field(default=None, ge=0, le=10_000)
    y: int | None = Field(default=None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _one_target(self) -> Request:
        tile = self.x is not None and self.y is not None
        if (self.building_id is None) == (not tile) or (self.x is None) != (self.y is None):
            raise ValueError("give building_id, or x and y")
        return self


class Response(Model):
    """The walk ahead."""

    agent_id: str
    target: str | None  # the building it walks to, if any
    x: int  # the tile it walks to
    y: int
    steps: int  # tiles to walk


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    async with w.lock:
        a = avatar.mine(w, ctx.session.player)
        steps = avatar.move_to(w, a, building=req.building_id, x=req.x, y=req.y)
        gx, gy = a.path[-1] if a.path else (a.x, a.y)
        await w.commit()
    return Response(agent_id=a.id, target=a.target, x=gx, y=gy, steps=steps)
