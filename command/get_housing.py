"""The town's homes (admin): each building with beds, its residents and free beds, and the
totals. A town whose equipment has no beds has no housing: the list is empty."""

from __future__ import annotations

from server.context import Context
from server.protocol import Model
from server.views import HomeInfo
from server.world import housing

PERMISSION = "admin"


class Request(Model):
    """No fields."""


class Response(Model):
    """Homes in id order; beds and free beds in town; agents without a home."""

    homes: list[HomeInfo]
    beds: int
    free: int
    homeless: list[str]


async def handle(ctx: Context, req: Request) -> Response:
    w = ctx.world
    hs = housing.homes(w)
    homeless = sorted(a.id for a in w.agents.values() if a.home is None) if hs else []
    return Response(
        homes=[HomeInfo.model_validate(h.public()) for h in hs],
        beds=sum(h.beds for h in hs),
        free=sum(h.free for h in hs),
        homeless=homeless,
    )
