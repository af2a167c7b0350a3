"""Where a building template fits: the top-left positions (what `create_building` takes) at which
it can be put up now, nearest to `near` first (distance from `near` to the new entrance), else
row by row. A position fits when every footprint tile is inside the map, walkable, not another
building's entrance, and free of agents except the new entrance. The browser client highlights
these while placing a building. Open to everyone."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import NotFound
from server.protocol import Model
from server.views import Tile
from server.world.sites import free_sites

PERMISSION = "viewer"


class Request(Model):
    """The template, an optional point to search around, and how many positions to answer."""

    template: str = Field(min_length=1, max_length=64)
    near: Tile | None = Field(default=None, description="answer the positions nearest this tile first")
    limit: int = Field(default=20, ge=1, le=100_000, description="the most positions to answer")


class Response(Model):
    """The positions, and the template's size and entrance for drawing them."""

    template: str
    w: int = Field(description="footprint width in tiles")
    h: int = Field(description="footprint height in tiles")
    entrance: Tile = Field(description="the entrance's offset inside the footprint")
    total: int = Field(description="how many positions fit in all")
    sites: list[Tile] = Field(description="top-left positions, at most `limit`")


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    tpl = w.town.templates.get(req.template)
    if tpl is None:
        raise NotFound(f"no building template {req.template!r}; known: {sorted(w.town.templates)}")
    near = (req.near.x, req.near.y) if req.near is not None else None
    found = free_sites(w, tpl, near)
    return Response(
        template=tpl.name,
        w=tpl.footprint.w,
        h=tpl.footprint.h,
        entrance=Tile(x=tpl.entrance.dx, y=tpl.entrance.dy),
        total=len(found),
        sites=[Tile(x=x, y=y) for x, y in found[: req.limit]],
    )
