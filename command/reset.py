"""Wipe the town and found it anew from the town files (admin). The town map, templates,
equipment and agent presets are read again from disk first, so a mistake in them refuses the
reset (code `invalid_town`, naming the file and the field) and leaves the town as it was.
Everything stored goes: agents, buildings, ledger, memories, events, ticks, tasks, LLM calls.
The admin token, the paused flag, a forked run's lineage and the run's probes are kept. Subscribers get a `reset` push."""

from __future__ import annotations

import logging

from server.context import Context
from server.errors import GameError, InvalidRequest
from server.protocol import Model
from server.world.town import TownFileError, TownFiles, load_presets
from server.world.world import World

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
    try:
        town = TownFiles(s.path(s.town))
        presets = load_presets(s.path(s.agents)) if s.agents else []
        # found a scratch town in memory first: a building that does not fit or a preset the world
        # refuses stops the reset here, before anything is wiped
        World(
            town,
            w.repo,
            w.plugins,
            seed=w.seed,
            max_agents=w.max_agents,
            sight=w.sight,
            llm_names=w.llm_names,
        ).found(presets, presets_file)
    except TownFileError as e:
        raise GameError(f"the town files are invalid; nothing was reset: {e}", code="invalid_town") from None
    runs = ctx.services.runs
    lineage = await runs.lineage_meta(runs.current) if runs is not None else None
    async with w.lock:
        await w.repo.wipe()
        if lineage is not None:  # a reset fork is still a fork of its parent (docs/runs.md)
            w.dirty.meta["run"] = lineage
        if runs is not None and runs.probes:  # and keeps its probes
            w.dirty.meta["probes"] = [p.model_dump() for p in runs.probes]
        w.town = town
        w.rng.seed(w.seed)
        await w.reload()  # an empty database: an empty town at tick 0
        if s.admin_token is None:  # a generated token lives in the database: keep it
            w.dirty.meta["admin_token"] = ctx.services.admin_token
        await w.start(presets, presets_file)
        ctx.services.frames.forget()
    log.warning(
        "town reset by session %d: %d agents, %d buildings", ctx.session.id, len(w.agents), len(w.buildings)
    )
    ctx.services.hub.forget()  # clients reload the town on `reset`; the next delta is full
    ctx.services.hub.publish("reset", {"tick": w.clock.tick})
    return Response(tick=w.clock.tick, agents=len(w.agents), buildings=len(w.buildings))
