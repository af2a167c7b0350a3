"""What the runs add around a tick and a switch: checkpoints, probes, and loading a run's probes."""

from __future__ import annotations

from pydantic import TypeAdapter

from server.context import Services
from server.runs.probes import Probe, run_probes

_PROBES = TypeAdapter(list[Probe])


async def load_probes(services: Services) -> None:
    """Read the open run's probes from its meta (none when it declares none)."""
    runs = services.runs
    if runs is None:
        return
    meta, _ = await runs.backend.read(runs.current)
    runs.probes = _PROBES.validate_python(meta.get("probes") or [])


async def after_tick(services: Services, tick: int) -> None:
    """After a tick's commit: a checkpoint when one is due, then the probes due."""
    runs = services.runs
    if runs is None:
        return
    await runs.after_tick(tick, services.world.lock)
    if runs.probes:
        await run_probes(services, runs.probes, tick)
