"""What a command handler gets: the running town's services and the calling session."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config.settings import Settings
from server.hub import Hub
from server.protocols import Models
from server.session import Session
from server.world.world import World

if TYPE_CHECKING:
    from server.router import Router


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
    extras: dict[str, Any] = field(default_factory=dict)


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
