"""The server's contracts with the parts it is handed (the agent package's Protocols live in
`agent/interfaces.py`). Implementations need not import this module."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from agent.interfaces import Mind

if TYPE_CHECKING:
    from agent.llm.wrappers import CallRecord
    from agent.model_service import Meter
    from agent.state import AgentRecord


class Models(Protocol):
    """The model service as the world's step and the commands use it: a Mind for an agent's step,
    and the metering of the calls made (apart for each tick or chat running)."""

    def mind(self, a: AgentRecord) -> Mind:
        """A fresh Mind for one step of `a`."""
        ...

    def metering(self) -> AbstractContextManager[Meter]:
        """Meter the calls made inside the block, and in tasks started inside it."""
        ...

    def drain(self) -> tuple[list[CallRecord], list[tuple[str, str, str]]]:
        """Take the calls and model failures made outside any `metering()` block."""
        ...

    async def aclose(self) -> None:
        """Close the model clients."""
        ...
