"""The whole town: map tiles, buildings with their equipment, agents, building templates and the
game clock. Open to everyone."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model
from server.views import AgentInfo, BuildingInfo, TemplateInfo

PERMISSION = "viewer"


class Request(Model):
    """No fields."""


class Response(Model):
    """Map (`tiles` rows: '.' ',' '=' walkable, '#' '~' blocked), buildings, agents, templates."""

    name: str
    width: int
    height: int
    tiles: list[str]
    tick: int
    clock: str
    buildings: list[BuildingInfo]
    agents: list[AgentInfo]
    templates: list[TemplateInfo]


async def handle(ctx: Context, req: Request) -> Response:
    return Response(**ctx.world.town_state())
