"""Raise this session's role. With `token` equal to the admin token: admin (compared in constant
time). With `player` and `secret`: a player of that name, who may create agents and act as them.
The first login with a player name claims it: the secret is stored hashed (Argon2id) and every
later login with that name must bring the same secret (names are compared by their normalised
key: case, spacing and Unicode forms do not make a new name; lookalike names are refused with
`invalid_name`). The admin may log in as any player without its secret. Without either the
session stays a viewer, which may watch but not act."""

from __future__ import annotations

import hmac

from pydantic import Field

from server.context import Context
from server.errors import Conflict, Forbidden, InvalidRequest
from server.protocol import Model
from server.secrets_store import MIN_SECRET, hash_secret, secret_matches
from server.session import Role
from server.world.names import check_name, name_key

PERMISSION = "viewer"


class Request(Model):
    """Either the admin token, or a player name with its secret (or both)."""

    token: str | None = Field(default=None, max_length=512)
    player: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[\w .\-]+$")
    secret: str | None = Field(default=None, max_length=256)


class Response(Model):
    """The session's role after login, the player name as claimed, and whether this login claimed it."""

    role: str
    player: str | None
    claimed: bool = False


async def handle(ctx: Context, req: Request) -> Response:
    s = ctx.session
    admin = False
    if req.token is not None:
        if not hmac.compare_digest(req.token.encode(), ctx.services.admin_token.encode()):
            raise Forbidden("wrong admin token")
        admin = True
    player, claimed = None, False
    if req.player is not None:
        player, claimed = await _player(ctx, req.player, req.secret, admin or s.role is Role.ADMIN)
    if admin:
        s.role = Role.ADMIN
        s.rate = ctx.services.admin_rate()
    if player is not None:
        s.player = player
        if s.role < Role.PLAYER:
            s.role = Role.PLAYER
    return Response(role=s.role.name.lower(), player=s.player, claimed=claimed)


async def _player(ctx: Context, name: str, secret: str | None, admin: bool) -> tuple[str, bool]:
    """The player name as claimed, after checking its secret; claims a free name."""
    name = check_name(name, "player name")
    key = name_key(name)
    repo = ctx.world.repo
    row = await repo.player(key)
    if row is None and admin and secret is None:
        return name, False  # the admin acts as a player name nobody has claimed, claiming nothing
    if row is not None:
        if admin:
            return str(row["name"]), False
        if secret is None:
            raise Forbidden(f"player name {row['name']!r} is claimed: log in with its secret")
        async with ctx.services.secret_slots:
            ok = await secret_matches(row["secret_hash"], secret)
        if not ok:
            raise Forbidden(f"player name {row['name']!r} is claimed: log in with its secret")
        return str(row["name"]), False
    if secret is None or len(secret) < MIN_SECRET:
        raise InvalidRequest(
            f"to claim the player name {name!r}, send a secret of at least {MIN_SECRET} characters "
            "with it; later logins as this player need the same secret"
        )
    async with ctx.services.secret_slots:
        hashed = await hash_secret(secret)
    if not await repo.claim_player(key, name, hashed, ctx.world.clock.tick):
        raise Conflict(f"player name {name!r} was claimed just now by someone else")
    return name, True
