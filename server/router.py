"""Command routing: every module under `command/` is one command, discovered once at start-up.

A command module defines `Request` and `Response` (pydantic, extra="forbid"), `PERMISSION`
("viewer", "player" or "admin") and `async def handle(ctx, req) -> Response`. The router looks a
client's command name up in the table built here; it never imports a name a client sent.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from server.errors import InvalidRequest, UnknownCommand
from server.session import Role

if TYPE_CHECKING:
    from server.context import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: its models, permission, handler and doc."""

    name: str
    request: type[BaseModel]
    response: type[BaseModel]
    permission: Role
    handle: Callable[[Context, Any], Awaitable[BaseModel]]
    doc: str


def _spec(name: str, mod: ModuleType) -> CommandSpec:
    for attr in ("Request", "Response", "handle"):
        if not hasattr(mod, attr):
            raise TypeError(f"command module {mod.__name__} lacks {attr}")
    for model in (mod.Request, mod.Response):
        if model.model_config.get("extra") != "forbid":
            raise TypeError(f"{mod.__name__}.{model.__name__} must refuse extra fields (extra='forbid')")
    if not inspect.iscoroutinefunction(mod.handle):
        raise TypeError(f"{mod.__name__}.handle must be async")
    perm = Role[str(getattr(mod, "PERMISSION", "viewer")).upper()]
    return CommandSpec(name, mod.Request, mod.Response, perm, mod.handle, inspect.cleandoc(mod.__doc__ or ""))


def discover(package: str = "command") -> MappingProxyType[str, CommandSpec]:
    """Import every module of the command package once; the table is read-only afterwards."""
    pkg = importlib.import_module(package)
    table: dict[str, CommandSpec] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        table[info.name] = _spec(info.name, importlib.import_module(f"{package}.{info.name}"))
    return MappingProxyType(table)


class Router:
    """Validates a request against its command's model and calls the handler."""

    def __init__(self, commands: MappingProxyType[str, CommandSpec]):
        self.commands = commands

    def lookup(self, name: str) -> CommandSpec:
        spec = self.commands.get(name)
        if spec is None:
            raise UnknownCommand(f"unknown command {name!r}; known: {', '.join(sorted(self.commands))}")
        return spec

    async def dispatch(self, ctx: Context, name: str, data: dict[str, Any]) -> BaseModel:
        spec = self.lookup(name)
        ctx.session.require(spec.permission, name)
        try:
            req = spec.request.model_validate(data)
        except ValidationError as e:
            raise InvalidRequest(
                f"{name}: "
                + "; ".join(
                    f"{'.'.join(str(x) for x in err['loc']) or 'data'}: {err['msg']}" for err in e.errors()
                )
            ) from None
        await ctx.world.refresh()  # never serve or change a town that a failed commit left unsaved
        return await spec.handle(ctx, req)
