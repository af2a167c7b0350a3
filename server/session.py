"""A client connection's identity, permissions, rate limit and outgoing queue."""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from server.errors import Forbidden
from server.world.names import name_key

log = logging.getLogger(__name__)


class Role(enum.IntEnum):
    """What a session may do: watch, act as its own agents, or run the town."""

    VIEWER = 0
    PLAYER = 1
    ADMIN = 2


@dataclass(slots=True)
class TokenBucket:
    """Commands per second with a burst allowance. `now` is injectable for tests."""

    rate: float
    burst: int
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.stamp = float(self.burst), now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


_ids = itertools.count(1)


@dataclass(eq=False, slots=True)
class Session:
    """One websocket connection. Frames to send go through `queue`; a full queue drops the client."""

    address: str
    rate: TokenBucket
    queue_size: int = 256
    id: int = field(default_factory=lambda: next(_ids))
    role: Role = Role.VIEWER
    player: str | None = None
    subscribed: bool = False
    compact: bool = False  # takes `tick` pushes in their compact form (`server.push`)
    dropped: bool = False
    on_drop: Callable[[], None] | None = None  # the socket closes the connection when dropped
    queue: asyncio.Queue[str] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size)

    def require(self, role: Role, command: str) -> None:
        if self.role < role:
            raise Forbidden(
                f"{command} needs the {role.name.lower()} role; this session is a {self.role.name.lower()}"
                + (
                    " (send login with the admin token)"
                    if role is Role.ADMIN
                    else " (send login with a player name and its secret)"
                )
            )

    def may_act_as(self, owner: str | None) -> bool:
        """A player acts only as agents it created; the admin acts as any."""
        return self.role is Role.ADMIN or (
            self.role is Role.PLAYER
            and owner is not None
            and self.player is not None
            and name_key(owner) == name_key(self.player)
        )

    def offer(self, text: str) -> bool:
        """Queue a frame; False (and the session marked dropped) when the client is too far behind."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            self.dropped = True
            log.warning("session %d (%s): send queue full, dropping the client", self.id, self.address)
            if self.on_drop is not None:
                self.on_drop()
            return False
