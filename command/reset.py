"""Wipe the town and found it anew from the town files (admin). The town map, templates,
equipment and agent presets are read again from disk first, so a mistake in them refuses the
reset (code `invalid_town`, naming the file and the field) and leaves the town as it was.
Everything stored goes: agents, buildings, ledger, memories, events, ticks, tasks, LLM calls.
A tick in flight finishes first; a run of ticks (`tick` with `count`) stops after it.
The admin token and the paused flag are kept. Subscribers get a `reset` push."""

from __future__ import annotations

import logging

from server.context import Context
from server.errors import InvalidRequest, InvalidTown
from server.protocol import Model
from server.world.town import TownFileError, TownFiles, load_presets

PERMISSION = "admin"
log = logging.getLogger(__name__)


class Request(Model):
    """`confirm` must be true: a reset cannot be undone."""

    confirm: bool = False


class Response(Model):
    """The new town's size."""

    tick: int
    agents: int
    buildings: int


async def handle(ctx: Context, req: Request) -> Response:
    if not req.confirm:
        raise InvalidRequest("reset wipes the whole town: send it with confirm=true")
    s = ctx.settings
    w = ctx.world
    presets_file = str(s.path(s.agents)) if s.agents else "agent presets"
    # a generated admin token lives in the database: keep it
    keep = {"admin_token": ctx.services.admin_token} if s.admin_token is None else {}
    try:
        town = TownFiles(s.path(s.town))
        presets = load_presets(s.path(s.agents)) if s.agents else []
        await w.reset(town, presets, presets_file, keep)
    except TownFileError as e:
        raise InvalidTown(f"the town files are invalid; nothing was reset: {e}") from None
    ctx.services.models.drain()  # calls made outside a tick or chat belong to the old town
    log.warning(
        "town reset by session %d: %d agents, %d buildings", ctx.session.id, len(w.agents), len(w.buildings)
    )
    ctx.services.hub.forget()  # clients reload the town on `reset`; the next delta is full
    ctx.services.hub.publish("reset", {"tick": w.clock.tick})
    return Response(tick=w.clock.tick, agents=len(w.agents), buildings=len(w.buildings))
