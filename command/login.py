"""Raise this session's role. With `token` equal to the admin token: admin (compared in constant
time). With `player`: a player of that name, who may create agents and act as them. Without
either the session stays a viewer, which may watch but not act."""

from __future__ import annotations

import hmac

from pydantic import Field

from server.context import Context
from server.errors import Forbidden
from server.protocol import Model
from server.session import Role

PERMISSION = "viewer"


class Request(Model):
    """Either the admin token, or a player name (or both)."""

    token: str | None = Field(default=None, max_length=512)
    player: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[\w .\-]+$")


class Response(Model):
    """The session's role after login."""

    role: str
    player: str | None


async def handle(ctx: Context, req: Request) -> Response:
    s = ctx.session
    if req.token is not None:
        if not hmac.compare_digest(req.token.encode(), ctx.services.admin_token.encode()):
            raise Forbidden("wrong admin token")
        s.role = Role.ADMIN
    if req.player is not None:
        s.player = req.player
        if s.role < Role.PLAYER:
            s.role = Role.PLAYER
    return Response(role=s.role.name.lower(), player=s.player)
