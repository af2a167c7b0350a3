"""Put up a building from a template at (x, y) on free walkable tiles. A player pays the
template's price from one of its own agents (`payer`); the admin builds for free. The footprint
becomes blocked except the entrance. The new building is pushed to subscribers."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import Forbidden, InsufficientFunds
from server.protocol import Model
from server.session import Role
from server.views import BuildingInfo
from server.world import placing

PERMISSION = "player"


class Request(Model):
    """Template, place, and who pays."""

    template: str = Field(min_length=1, max_length=64)
    x: int = Field(ge=0, le=10_000)
    y: int = Field(ge=0, le=10_000)
    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w .'\-]+$")
    payer: str | None = Field(default=None, max_length=64, description="agent id paying the price")


class Response(Model):
    """The new building."""

    building: BuildingInfo
    paid: int


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    s = ctx.session
    async with w.lock:
        tpl = w.town.templates.get(req.template)
        price = tpl.price if tpl is not None else 0
        payer = None
        if s.role is not Role.ADMIN and price > 0:
            if req.payer is None:
                raise Forbidden(f"a {req.template} costs {price}: name a `payer`, one of your agents")
            payer = w.agent(req.payer)
            if not s.may_act_as(payer.owner):
                raise Forbidden(f"agent {payer.id} is not yours to pay with")
            if payer.cash < price:
                raise InsufficientFunds(f"{payer.name} has {payer.cash}, a {req.template} costs {price}")
        b = placing.place_building(w, req.template, req.x, req.y, name=req.name, owner=s.player)
        if payer is not None:
            w.pay(f"agent:{payer.id}", "town", price, f"built {b.name}")
        w.event("build", f"{b.name} was built", payer.id if payer else None)
        await w.commit()
    ctx.services.hub.publish("building_added", {"building": b.public()})
    return Response(building=BuildingInfo.model_validate(b.public()), paid=price if payer else 0)
