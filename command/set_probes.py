"""Declare the open run's probes (admin), replacing any it had: each asks `question` of the chosen
`agents` (none: all) every `every` ticks, through the interview path (nothing goes into the agents'
memories), and scores the answer with a metric: `keywords`, `choice`, `number` or `judge` (see
docs/runs.md). The probes are kept in the run, so its forks inherit them; an empty list removes
them. Scores go to the report and `probe_scores`."""

from __future__ import annotations

from pydantic import Field

from server.context import Context
from server.errors import InvalidRequest
from server.protocol import Model
from server.runs.probes import Judge, Probe
from server.runs.switch import store_of

PERMISSION = "admin"


class Request(Model):
    """The probes, at most 20."""

    probes: list[Probe] = Field(max_length=20)


class Response(Model):
    """The probes now declared."""

    probes: list[Probe]


async def handle(ctx: Context, req: Request) -> Response:
    runs = store_of(ctx.services)
    w = ctx.world
    names = [p.name for p in req.probes]
    if len(set(names)) != len(names):
        raise InvalidRequest("probe names must differ")
    for p in req.probes:
        unknown = [a for a in p.agents if a not in w.agents]
        if unknown:
            raise InvalidRequest(f"probe {p.name}: no agents {unknown}")
        if isinstance(p.metric, Judge) and p.metric.profile not in ctx.settings.llm_names():
            raise InvalidRequest(
                f"probe {p.name}: no LLM profile {p.metric.profile!r}; known: {ctx.settings.llm_names()}"
            )
    async with w.lock:
        w.dirty.meta["probes"] = [p.model_dump() for p in req.probes]
        await w.commit()
    runs.probes = list(req.probes)
    return Response(probes=runs.probes)
