"""The whole town: map tiles, buildings with their equipment, agents, building templates and the
game clock. Open to everyone."""

from __future__ import annotations

from typing import Any

from server.context import Context
from server.protocol import Model

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
    buildings: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    templates: list[dict[str, Any]]


async def handle(ctx: Context, req: Request) -> Response:
    return Response(**ctx.world.town_state())
