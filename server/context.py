"""What a command handler gets: the running town's services and the calling session."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config.settings import Settings
from server.hub import Hub
from server.protocols import Models
from server.report.build import Reports
from server.runs.replay import FrameRecorder
from server.session import Session, TokenBucket
from server.world.world import World

if TYPE_CHECKING:
    from server.router import Router
    from server.runs.store import RunStore


@dataclass(eq=False)
class Services:
    """Everything `main()` builds once and hands to every handler (no module-level state)."""

    settings: Settings
    world: World
    hub: Hub
    router: Router
    admin_token: str
    models: Models  # the model service: minds for agents' steps, metering of their calls
    connections: Counter[str] = field(default_factory=Counter)
    paused: bool = False  # ticking paused by an admin: `tick` answers "paused"
    tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one tick at a time, whoever sends it
    # player secrets hashed or checked at once (each costs ~50 ms of CPU and 64 MiB by design):
    # a flood of logins waits its turn instead of taking every core
    secret_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    extras: dict[str, Any] = field(default_factory=dict)
    runs: RunStore | None = None  # named runs (set by main; None for a town in memory)
    frames: FrameRecorder = field(default_factory=FrameRecorder)  # each tick's replay frame
    reports: Reports = field(init=False)  # the run report, kept up to date as ticks commit

    def __post_init__(self) -> None:
        self.reports = Reports(self.world)

    def admin_rate(self) -> TokenBucket:
        """The command rate limit of an admin's connection (`limits.admin_commands_per_second`)."""
        lim = self.settings.limits
        return TokenBucket(lim.admin_commands_per_second, lim.admin_command_burst)


@dataclass(eq=False, slots=True)
class Context:
    """One command call."""

    services: Services
    session: Session

    @property
    def world(self) -> World:
        return self.services.world

    @property
    def settings(self) -> Settings:
        return self.services.settings
