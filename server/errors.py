"""Game errors: raised by commands and the world, turned into error frames by the socket.

Each error code is one `GameError` subclass with a `code` class attribute; raise the subclass.
(`internal_error`, for an unexpected exception, is the socket's own and has no class.)"""

from __future__ import annotations


class GameError(Exception):
    """A refusal a client should see. `code` is stable and machine-readable."""

    code = "game_error"

    def __init__(self, message: str):
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class BadFrame(GameError):
    """The frame is not JSON, or not a request envelope."""

    code = "bad_frame"


class UnknownCommand(GameError):
    """No command of that name."""

    code = "unknown_command"


class InvalidRequest(GameError):
    """The command's data does not fit its request model."""

    code = "invalid_request"


class FrameTooLarge(GameError):
    """The frame is over the configured size limit."""

    code = "frame_too_large"


class RateLimited(GameError):
    """Too many commands per second on this connection."""

    code = "rate_limited"


class Forbidden(GameError):
    """The session lacks the permission the command needs."""

    code = "forbidden"


class NotFound(GameError):
    """An agent, building, equipment or task of that id does not exist."""

    code = "not_found"


class Conflict(GameError):
    """The request clashes with the world: a taken tile, a name in use, a full equipment."""

    code = "conflict"


class InsufficientFunds(GameError):
    """A payment larger than the payer's balance."""

    code = "insufficient_funds"


class LimitReached(GameError):
    """A configured limit (agents per town, connections per address) is reached."""

    code = "limit_reached"


class Unavailable(GameError):
    """A backing service (database) is unreachable right now; nothing was changed."""

    code = "unavailable"


class Paused(GameError):
    """Ticking is paused by an admin."""

    code = "paused"


class InvalidTown(GameError):
    """The town files (map, templates, equipment, presets) are invalid."""

    code = "invalid_town"


class NoSuchPlugin(GameError):
    """A plan or memory module name that is not registered."""

    code = "unknown_plugin"


class NoSuchLLM(GameError):
    """An LLM profile name that is not configured."""

    code = "unknown_llm"


class NoSuchJob(GameError):
    """A task asks for a job that no equipment of its building offers."""

    code = "no_such_job"


class InvalidAmount(GameError):
    """A payment of a non-positive amount, or to oneself."""

    code = "invalid_amount"


class InvalidAccount(GameError):
    """Money may not flow between these ledger accounts."""

    code = "invalid_account"


class ActionRefused(GameError):
    """The world refused an action an agent proposed."""

    code = "action_refused"


class NoFreeBed(GameError):
    """The town (or the home asked for) has no free bed for a new agent."""

    code = "no_free_bed"


class NoAvatar(GameError):
    """The player has no avatar in the town (send `join` first)."""

    code = "no_avatar"
