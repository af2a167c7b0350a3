"""townclient: a small client of the AI town's websocket protocol, on `websockets` and `pydantic`.

It is one file so that it travels: copy it with `tick.py` and `mayor.py` to any machine with
Python 3.11+, `pip install "websockets>=14" "pydantic>=2.7"`, and drive a town over the network
(docs/drivers.md). It imports nothing of the server.

    async with await TownClient.connect("ws://127.0.0.1:8000/ws", retry_for=30) as c:
        await c.call("login", token=token)
        summary = TickSummary.model_validate(await c.call("tick"))
        await c.subscribe()
        push = await c.next_push("tick")

One task per connection reads every frame: answers go to the call that waits for their id (so
calls may run concurrently on one connection), pushes are queued with the time they arrived
until `next_push` (decoded) or `next_raw_push` (bytes, for measuring) takes them. The `websockets`
library pings the server every `ping_interval` seconds and drops a connection whose pong does not
come within `ping_timeout`. Errors: `CommandError` (the server refused a command; `.code`),
`ConnectionLost` (the connection ended while in use), `CannotConnect` (no connection after the
retries); the last two are `ConnectionError`s.

The frame and answer models mirror the server's (`server/protocol.py`, the `tick`, `list_tasks`
and `get_report` commands, `server/world/task_specs.py`); tests/test_townclient.py compares them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Origin

__all__ = [
    "Answer",
    "CannotConnect",
    "CommandError",
    "ConnectionLost",
    "ErrorBody",
    "Push",
    "RawPush",
    "Report",
    "RequestFrame",
    "BadFile",
    "Probe",
    "TaskListing",
    "TaskSpec",
    "TickSummary",
    "TownClient",
    "connect_driver",
    "read_json",
    "stop_on_signals",
    "validation_lines",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Frames (server/protocol.py)


class Model(BaseModel):
    """Base of every model here: unknown fields are refused, as the server does."""

    model_config = ConfigDict(extra="forbid")


class RequestFrame(Model):
    """A request: its id (echoed by the answer), the command's name and its data."""

    id: str | int | None = None
    command: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(Model):
    """Why the server refused a request: a code to branch on and a message for people."""

    code: str
    message: str


class Answer(Model):
    """The answer to a request: `result` when `ok`, else `error`."""

    id: str | int | None
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Answer:
        if (self.result is None) == self.ok or (self.error is None) != self.ok:
            raise ValueError("an answer holds a result when ok, else an error")
        return self


class Push(Model):
    """A frame the server sends by itself (a `tick` delta, a `chat` line ...): no id."""

    type: str
    data: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Answers the drivers read (command/tick.py, command/list_tasks.py, command/get_report.py)


class TickSummary(Model):
    """The answer to `tick`: the last tick run, plus how many ran (`ticks`)."""

    tick: int
    clock: str
    stepped: int
    moved: int
    actions: int
    refused: int
    llm_calls: int
    tokens: int
    cost_usd: float
    failures: int
    errors: list[dict[str, Any]]
    wall_ms: float
    phases_ms: dict[str, float]
    ticks: int

    def progress_line(self) -> str:
        """The tick's progress line, as the drivers print it."""
        return (
            f"tick {self.tick:>6}  {self.clock}  stepped {self.stepped:>4}  moved {self.moved:>4}  "
            f"llm {self.llm_calls:>4}  tokens {self.tokens:>7}  failures {self.failures:>3}  "
            f"{self.wall_ms:8.1f} ms"
        )


class TaskListing(Model):
    """The answer to `list_tasks`: the tasks, who holds which job, and the tick."""

    tick: int
    tasks: list[dict[str, Any]]
    jobs: dict[str, dict[str, Any]]


class Report(Model):
    """The answer to `get_report`: the run report, and its HTML page when asked for (`html=True`)."""

    report: dict[str, Any]
    html: str | None = None


# ---------------------------------------------------------------------------------------------
# What a mayor writes (server/world/task_specs.py): scenario files, `post_task`


class BuildingExists(Model):
    """`count` buildings of a template (or kind) stand in town, optionally built after posting."""

    type: Literal["building_exists"]
    template: str | None = None
    kind: str | None = None
    count: int = Field(default=1, ge=1)
    built_after_post: bool = False

    @model_validator(mode="after")
    def _one(self) -> BuildingExists:
        if not (self.template or self.kind):
            raise ValueError("give a template or a kind")
        return self


class Employed(Model):
    """`count` agents are employed at `building` (with `title`, and `shifts` worked, if given)."""

    type: Literal["employed"]
    building: str
    count: int = Field(default=1, ge=1)
    title: str | None = None
    shifts: int = Field(default=0, ge=0)


class LedgerTotal(Model):
    """The total cash of all agents is at least `percent`% of the total at posting (120 = +20%)."""

    type: Literal["ledger_total"]
    percent: float = Field(gt=0, le=100_000)


class Visited(Model):
    """`count` agents (or `agent`) stood at `building` or used its equipment (`equipment` spec)."""

    type: Literal["visited"]
    building: str
    agent: str | None = None
    equipment: str | None = None
    count: int = Field(default=1, ge=1)


class KnowsFact(Model):
    """`count` agents have a memory containing every key word of `fact` (or of `keywords`)."""

    type: Literal["knows_fact"]
    fact: str = Field(min_length=1, max_length=500)
    keywords: list[str] | None = None
    count: int = Field(default=1, ge=1)


class CompanyFounded(Model):
    """A company is registered at `building` after posting and has `members` (founder + employees)."""

    type: Literal["company"]
    building: str
    members: int = Field(default=3, ge=1)


Condition = Annotated[
    BuildingExists | Employed | LedgerTotal | Visited | KnowsFact | CompanyFounded,
    Field(discriminator="type"),
]


class TaskSpec(Model):
    """A task as a mayor writes it (scenario file, `post_task`)."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    reward: int = Field(default=0, ge=0, le=1_000_000)
    building: str | None = Field(default=None, description="where the work happens (agents go there)")
    deadline_ticks: int | None = Field(default=None, ge=1, description="ticks after posting")
    deadline_minutes: int | None = Field(default=None, ge=1, description="game minutes after posting")
    slots: int | None = Field(default=None, ge=1, description="most agents who may take it (hiring: count)")
    condition: Condition


# ---------------------------------------------------------------------------------------------
# What a researcher declares (server/runs/probes.py): a scenario's probes, `set_probes`


class Keywords(Model):
    """Score: the share of `keywords` (each one or more words) found in the answer."""

    kind: Literal["keywords"]
    keywords: list[str] = Field(min_length=1, max_length=50)


class Choice(Model):
    """Score: 1 if the option the answer names first is `expected` (or, with none, any), else 0."""

    kind: Literal["choice"]
    choices: list[str] = Field(min_length=2, max_length=50)
    expected: str | None = None


class NumberRange(Model):
    """Score: 1 if the answer's first number lies in [`min`, `max`], else 0."""

    kind: Literal["number"]
    min: float
    max: float


class Judge(Model):
    """Score: an LLM profile's rating of the answer against `rubric` (1-10), as (rating - 1) / 9."""

    kind: Literal["judge"]
    rubric: str = Field(min_length=1, max_length=2000)
    profile: str = "default"


Metric = Annotated[Keywords | Choice | NumberRange | Judge, Field(discriminator="kind")]


class Probe(Model):
    """A question asked every `every` ticks of the chosen `agents` (none: every agent)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")
    question: str = Field(min_length=1, max_length=1000)
    every: int = Field(default=10, ge=1)
    agents: list[str] = Field(default_factory=list, max_length=2000)
    metric: Metric


class BadFile(Exception):
    """A driver's input file is missing or invalid; the message names the file (and the field)."""


def read_json(path: Path) -> Any:
    """The JSON in file `path`; BadFile when it is missing or not JSON (saying where)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise BadFile(f"{path}: file not found") from e
    except json.JSONDecodeError as e:
        raise BadFile(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from e


def validation_lines(path: Path, e: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem pydantic found in file `path`: `<path>: field <a.b.c>: <message>`."""
    out = []
    for err in e.errors():
        loc = ".".join([prefix, *(str(x) for x in err["loc"])] if prefix else [str(x) for x in err["loc"]])
        out.append(f"{path}: field {loc or '(top level)'}: {err['msg']}")
    return out


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that SIGINT or SIGTERM sets while the block runs (a driver stops after the tick
    in flight); the handlers go with the block. Off the main thread (a driver's coroutine run in
    a test) no handler is set, and only the caller sets the event."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (RuntimeError, ValueError):  # not the main thread
            pass
    try:
        yield stop
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


# ---------------------------------------------------------------------------------------------
# The client


class CommandError(Exception):
    """The server answered a request with an error frame."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(ConnectionError):
    """The connection ended (the server closed it, the network or a keep-alive ping failed, or
    this client closed it) while a call or a push was awaited."""


class CannotConnect(ConnectionError):
    """No websocket connection could be opened (refused, unreachable, not a town's websocket)."""


@dataclass(frozen=True, slots=True)
class RawPush:
    """A push as received: its undecoded bytes and when (`time.monotonic()`) the client read it.
    (It may also be an error frame about the connection, which `decode` refuses: see `next_push`.)"""

    data: bytes
    received: float

    def decode(self) -> Push:
        """The push as a frame model."""
        return Push.model_validate_json(self.data)


class TownClient:
    """One websocket connection to a town. Build it with `connect`; close it with `close` (or
    `async with`)."""

    def __init__(self, ws: ClientConnection, *, max_pushes: int = 10_000):
        self.ws = ws
        self.max_pushes = max_pushes
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._abandoned: set[int] = set()  # requests whose callers gave up before the answer came
        self._pushes: asyncio.Queue[RawPush | None] = asyncio.Queue()  # None: the connection ended
        self._lost: str | None = None
        self._closing = False
        self._reader = asyncio.create_task(self._read(), name=f"townclient reader {id(self):x}")

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        retry_for: float = 0.0,
        open_timeout: float = 10.0,
        origin: str | None = None,
        max_size: int = 64 << 20,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 60.0,
        close_timeout: float | None = 10.0,
        max_pushes: int = 10_000,
    ) -> TownClient:
        """Open a connection to `url` (`ws://host:port/ws`). While the server refuses or cannot be
        reached (it may still be starting), retry with backoff for up to `retry_for` seconds;
        then raise `CannotConnect`. A server that answers but is no websocket is not retried.
        A silent server is noticed within `ping_interval + ping_timeout + close_timeout` s."""
        deadline = time.monotonic() + retry_for
        delay = 0.1
        while True:
            try:
                ws = await ws_connect(
                    url,
                    open_timeout=open_timeout,
                    origin=Origin(origin) if origin else None,
                    max_size=max_size,
                    ping_interval=ping_interval,
                    ping_timeout=ping_timeout,
                    close_timeout=close_timeout,
                )
            except OSError as e:  # refused, unreachable, timed out (TimeoutError is an OSError)
                if time.monotonic() + delay > deadline:
                    raise CannotConnect(str(e) or e.__class__.__name__) from e
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except WebSocketException as e:  # a bad URL, an HTTP error instead of an upgrade ...
                raise CannotConnect(f"{e.__class__.__name__}: {e}") from e
            else:
                return cls(ws, max_pushes=max_pushes)

    async def __aenter__(self) -> TownClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection cleanly (the close handshake) and stop reading."""
        self._closing = True
        await self.ws.close()
        await self._reader

    async def request(
        self, command: str, data: dict[str, Any] | None = None, *, timeout: float | None = 600.0
    ) -> Answer:
        """Send a command and wait for its answer (ok or error); TimeoutError after `timeout` s."""
        if self._lost is not None:
            raise ConnectionLost(self._lost)
        rid = next(self._ids)
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[rid] = waiter
        try:
            await self.ws.send(RequestFrame(id=rid, command=command, data=data or {}).model_dump_json())
            async with asyncio.timeout(timeout):
                return await waiter
        except ConnectionClosed as e:
            raise ConnectionLost(self._lost or _closed(e)) from e
        finally:
            unanswered = self._pending.pop(rid, None) is not None  # else the reader took it
            if waiter.cancelled() or not waiter.done():  # gave up (timeout, cancelled)
                if unanswered:
                    self._abandoned.add(rid)  # its answer, if it comes, is dropped
            else:
                waiter.exception()  # seen (a send that failed as the connection ended)

    async def call(self, command: str, *, timeout: float | None = 600.0, **data: Any) -> dict[str, Any]:
        """Send a command; its result, or `CommandError` with the server's code."""
        a = await self.request(command, data, timeout=timeout)
        if a.error is not None:
            raise CommandError(a.error.code, a.error.message)
        assert a.result is not None  # Answer's validator: ok answers hold a result
        return a.result

    async def subscribe(self, on: bool = True) -> dict[str, Any]:
        """Start (or stop) receiving the town's pushes on this connection; the `subscribe` result."""
        return await self.call("subscribe", on=on)

    async def next_raw_push(self, *, timeout: float | None = 30.0) -> RawPush:
        """The oldest unread push, undecoded, with the time it arrived."""
        async with asyncio.timeout(timeout):
            got = await self._pushes.get()
        if got is None:
            self._pushes.put_nowait(None)  # for the next reader too
            raise ConnectionLost(self._lost or "connection closed")
        return got

    async def next_push(self, kind: str | None = None, *, timeout: float | None = 30.0) -> Push:
        """The next push (of type `kind`: others are skipped and dropped). An error frame that
        answers no request (the server refusing the connection, or a frame it could not read)
        is raised here as `CommandError`."""
        async with asyncio.timeout(timeout):
            while True:
                frame = pydantic_core.from_json((await self.next_raw_push(timeout=None)).data)
                if isinstance(frame, dict) and "type" in frame and "id" not in frame:
                    p = Push.model_validate(frame)
                    if kind is None or p.type == kind:
                        return p
                    continue
                a = Answer.model_validate(frame)
                if a.error is not None:
                    raise CommandError(a.error.code, a.error.message)
                log.warning("townclient: an answer to no request was dropped: %.200r", frame)

    async def pushes(self, kind: str | None = None) -> AsyncIterator[Push]:
        """Every push (of type `kind`) as it comes, until the connection ends (`ConnectionLost`)."""
        while True:
            yield await self.next_push(kind, timeout=None)

    async def _read(self) -> None:
        """Read every frame until the connection ends: answers to their callers, pushes queued."""
        why = "connection closed"
        try:
            while True:
                msg = await self.ws.recv(decode=False)
                received = time.monotonic()
                # While no answer is due, every frame is a push: it is queued undecoded (the cheap
                # path for a subscriber), and decoded only by `next_push`.
                if (self._pending or self._abandoned) and self._deliver(msg):
                    continue
                if self._pushes.qsize() >= self.max_pushes:
                    why = f"more than {self.max_pushes} pushes unread: read them (next_push) or unsubscribe"
                    await self.ws.close(1008, "client push queue full")
                    break
                self._pushes.put_nowait(RawPush(msg, received))
        except ConnectionClosed as e:
            why = "closed by this client" if self._closing else _closed(e)
        except ValueError as e:  # not JSON, or an answer this client does not understand
            why = f"the server sent a frame this client does not understand: {e}"
            await self.ws.close(1002, "unexpected frame")
        finally:
            self._lost = why
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionLost(why))
            self._pushes.put_nowait(None)

    def _deliver(self, msg: bytes) -> bool:
        """Hand an answer to the call waiting for it: True. False for a push, or an answer to no
        request (id null: an error about the connection), which is queued with the pushes."""
        frame = pydantic_core.from_json(msg)
        if isinstance(frame, dict) and "type" in frame and "id" not in frame:
            return False
        a = Answer.model_validate(frame)
        if not isinstance(a.id, int):  # null: about the connection, for `next_push` to raise
            return False
        waiter = self._pending.pop(a.id, None)
        if waiter is not None:
            if not waiter.done():  # done: cancelled a moment ago, its caller is leaving
                waiter.set_result(a)
        elif a.id in self._abandoned:
            self._abandoned.discard(a.id)
            log.info("townclient: the answer to request %d came after its caller gave up", a.id)
        else:
            log.warning("townclient: an answer to no request (id %d) was dropped", a.id)
        return True


async def connect_driver(prog: str, url: str, retry_for: float) -> TownClient | None:
    """A driver's connection to `url`, retried for `retry_for` seconds while the server is not
    up; None once it printed to stderr why it could not connect (`prog: cannot reach ...`)."""
    try:
        return await TownClient.connect(url, retry_for=retry_for, open_timeout=5)
    except OSError as e:  # CannotConnect
        print(f"{prog}: cannot reach {url}: {e}", file=sys.stderr)
        return None


def _closed(e: ConnectionClosed) -> str:
    """Why a connection ended, in words."""
    return f"connection closed ({e})"
