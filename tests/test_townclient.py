"""townclient.py, the drivers' standalone client: its models mirror the server's, and it keeps its
promises against the real server (answers by id among pushes, errors with codes, lost
connections, retries, keep-alive, a clean close)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import townclient as tc
from command import get_report, list_tasks
from command import tick as tick_command
from server import protocol
from server.app import Running, run_town
from server.runs import probes
from server.world import task_specs
from tests.conftest import ADMIN, make_settings

ROOT = Path(__file__).resolve().parent.parent

# What the client writes for the server to read: mirrored field for field, nested models included.
MIRRORS = [
    (tc.RequestFrame, protocol.RequestFrame),
    (tc.TaskSpec, task_specs.TaskSpec),
    (tc.Probe, probes.Probe),
]
# Answers the client reads: the same fields with the same types, except that a record the server
# types as a model (a task, a job, the report) the client keeps as a dict.
ANSWERS = [
    (tc.TickSummary, tick_command.Response),
    (tc.TaskListing, list_tasks.Response),
    (tc.Report, get_report.Response),
]
ANY_OBJECT = {"type": "object", "additionalProperties": True}  # the schema of dict[str, Any]


def _shape(schema: Any, *, names: bool = False, loose: bool = False) -> Any:
    """A JSON schema without its prose (titles, descriptions): what validation depends on.
    `loose`: every reference to a model becomes "any object", and the definitions go."""
    if isinstance(schema, dict):
        if names:  # the keys are field or definition names: keep them all
            return {k: _shape(v, loose=loose) for k, v in schema.items()}
        if loose and "$ref" in schema:
            return ANY_OBJECT
        return {
            k: _shape(v, names=k in ("properties", "$defs"), loose=loose)
            for k, v in schema.items()
            if k not in ("title", "description") and not (loose and k == "$defs")
        }
    if isinstance(schema, list):
        return [_shape(v, loose=loose) for v in schema]
    return schema


@pytest.mark.parametrize("mine, servers", MIRRORS, ids=[m.__name__ for m, _ in MIRRORS])
def test_models_mirror_the_servers(mine: type[BaseModel], servers: type[BaseModel]) -> None:
    assert _shape(mine.model_json_schema()) == _shape(servers.model_json_schema())


@pytest.mark.parametrize("mine, servers", ANSWERS, ids=[m.__name__ for m, _ in ANSWERS])
def test_answer_models_match_the_servers(mine: type[BaseModel], servers: type[BaseModel]) -> None:
    assert _shape(mine.model_json_schema(), loose=True) == _shape(servers.model_json_schema(), loose=True)


def test_shape_sees_a_changed_constraint() -> None:
    """The comparisons above are not blind: one changed bound, or a typed record the client does
    not know, makes the schemas differ."""

    class Looser(tc.TaskSpec):
        reward: int = 0

    class Job(BaseModel):
        title: str

    class Typed(BaseModel):
        job: Job
        jobs: list[Job]

    class Loose(BaseModel):
        job: dict[str, Any]
        jobs: list[dict[str, Any]]

    assert _shape(Looser.model_json_schema()) != _shape(task_specs.TaskSpec.model_json_schema())
    assert _shape(Typed.model_json_schema(), loose=True) == _shape(Loose.model_json_schema(), loose=True)
    assert _shape(Typed.model_json_schema()) != _shape(Loose.model_json_schema())


TASKS: list[dict[str, Any]] = [
    {"title": "t", "condition": {"type": "building_exists", "template": "cafe"}},
    {"title": "t", "condition": {"type": "building_exists"}},  # a validator, not in the schema
    {"title": "t", "condition": {"type": "employed", "building": "cafe", "count": 0}},
    {"title": "t", "condition": {"type": "employed"}, "pay": 1},
    {"title": "", "reward": -1, "condition": {"type": "ledger_total", "percent": 0}},
    {"title": "t", "condition": {"type": "teleport"}},
    {"title": "t", "deadline_ticks": 5, "condition": {"type": "knows_fact", "fact": "x", "count": 2}},
    {"title": "t", "slots": 0, "condition": {"type": "visited", "building": "park", "agent": "a"}},
    {"title": "t", "condition": {"type": "company", "building": "office", "members": 3}},
]


@pytest.mark.parametrize("raw", TASKS)
def test_task_specs_are_judged_alike(raw: dict[str, Any]) -> None:
    """Scenario files get the same verdict, with the same fields named, as the server gives."""

    def verdict(model: type[BaseModel]) -> Any:
        try:
            return model.model_validate(raw).model_dump()
        except ValidationError as e:
            return sorted((err["loc"], err["type"]) for err in e.errors())

    assert verdict(tc.TaskSpec) == verdict(task_specs.TaskSpec)


def test_server_frames_read_as_client_frames_and_back() -> None:
    a = tc.Answer.model_validate(protocol.answer(3, {"tick": 1}))
    assert (a.id, a.ok, a.result, a.error) == (3, True, {"tick": 1}, None)
    e = tc.Answer.model_validate(protocol.error(None, "bad_frame", "not JSON"))
    assert e.error == tc.ErrorBody(code="bad_frame", message="not JSON") and e.result is None
    p = tc.Push.model_validate_json(protocol.encode(protocol.push("tick", {"tick": 4})))
    assert (p.type, p.data) == ("tick", {"tick": 4})
    req = tc.RequestFrame(id=7, command="tick", data={"count": 2}).model_dump_json()
    assert protocol.RequestFrame.model_validate_json(req).model_dump() == {
        "id": 7,
        "command": "tick",
        "data": {"count": 2},
    }
    with pytest.raises(ValidationError):  # an answer must hold what its `ok` says
        tc.Answer.model_validate({"id": 1, "ok": True, "error": {"code": "x", "message": "y"}})


def test_client_and_drivers_import_nothing_of_the_server() -> None:
    code = (
        "import sys, townclient, tick, mayor; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'server', 'agent', 'command', 'config', 'tornado', 'orjson', 'sqlalchemy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- against the real server ---------------------------------------------------------------


async def test_answers_by_id_while_pushes_arrive(town: Running) -> None:
    async with await tc.TownClient.connect(town.ws_url) as c:
        await c.call("login", token=ADMIN)
        assert (await c.subscribe())["subscribed"] is True
        s = tc.TickSummary.model_validate(await c.call("tick", count=2))
        assert (s.tick, s.ticks) == (2, 2)
        # both ticks' deltas came before the answer: they were kept, in order
        assert [(await c.next_push("tick")).data["tick"] for _ in range(2)] == [1, 2]
        # concurrent calls on one connection each get their own answer
        town_, info, tasks = await asyncio.gather(c.call("get_town"), c.call("info"), c.call("list_tasks"))
        assert "buildings" in town_ and "commands" in info and tc.TaskListing.model_validate(tasks).tick == 2
        await c.call("tick")
        raw = await c.next_raw_push()
        assert raw.decode().data["tick"] == 3 and raw.received > 0


async def test_command_errors_carry_the_code_and_keep_the_connection(town: Running) -> None:
    async with await tc.TownClient.connect(town.ws_url) as c:
        with pytest.raises(tc.CommandError) as e:
            await c.call("tick")
        assert e.value.code == "forbidden"
        with pytest.raises(tc.CommandError) as e:
            await c.call("no_such_command")
        assert e.value.code == "unknown_command" and "known:" in e.value.message
        with pytest.raises(tc.CommandError) as e:
            await c.call("get_agent")
        assert e.value.code == "invalid_request"
        assert (await c.call("info"))["commands"]


async def test_a_refused_connection_says_why(sqlite_url: str) -> None:
    async with run_town(make_settings(sqlite_url, limits={"connections_per_address": 1})) as town:
        async with await tc.TownClient.connect(town.ws_url) as first:
            second = await tc.TownClient.connect(town.ws_url)
            with pytest.raises(tc.CommandError) as e:
                await second.next_push()
            assert e.value.code == "limit_reached"
            with pytest.raises(tc.ConnectionLost, match="too many connections"):
                await second.call("info")
            await second.close()
            assert (await first.call("info"))["commands"]


async def test_unread_pushes_beyond_the_bound_end_the_connection(town: Running, admin: Any) -> None:
    c = await tc.TownClient.connect(town.ws_url, max_pushes=2)
    await c.subscribe()
    for _ in range(3):
        await admin.call("tick")
    with pytest.raises(tc.ConnectionLost, match="pushes unread"):
        await c.call("info")
    with pytest.raises(tc.ConnectionLost):
        for _ in range(3):  # the two kept pushes are still readable, then the loss
            await c.next_push("tick")
    await c.close()


async def test_connect_retries_until_the_server_listens(sqlite_url: str) -> None:
    with _free_port() as port:  # bound, not listening: connections are refused
        url = f"ws://127.0.0.1:{port}/ws"
        with pytest.raises(tc.CannotConnect):
            await tc.TownClient.connect(url, retry_for=0.3)
        connecting = asyncio.create_task(tc.TownClient.connect(url, retry_for=60))
        await asyncio.sleep(0.3)  # a few refused attempts (not needed for the test to pass)
    async with run_town(make_settings(sqlite_url, port=port)):
        c = await connecting
        assert (await c.call("info"))["commands"]
        await c.close()


async def test_not_a_websocket_is_not_retried(town: Running) -> None:
    with pytest.raises(tc.CannotConnect, match="404"):
        await tc.TownClient.connect(f"ws://127.0.0.1:{town.port}/nowhere", retry_for=60)
    with pytest.raises(tc.CannotConnect):
        await tc.TownClient.connect("http://127.0.0.1:1/ws")


async def test_keepalive_pings_detect_a_silent_server() -> None:
    """A server that stops answering (a frozen process, a dead link) is noticed by the pings: the
    call in flight fails with ConnectionLost instead of waiting out its timeout."""
    async with _silent_websocket_server() as url:
        c = await tc.TownClient.connect(url, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.2)
        with pytest.raises(tc.ConnectionLost, match="keepalive"):
            await c.call("info", timeout=120)
        await c.close()


async def test_close_is_a_clean_handshake(town: Running) -> None:
    c = await tc.TownClient.connect(town.ws_url)
    await c.call("info")
    await c.close()
    assert c.ws.close_code == 1000  # the server answered our close frame
    with pytest.raises(tc.ConnectionLost, match="closed by this client"):
        await c.call("info")
    with pytest.raises(tc.ConnectionLost):
        await c.next_push(timeout=5)


class _free_port:
    """A local port bound but not listening (refuses connections), released on exit."""

    def __enter__(self) -> int:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        port: int = self.sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@asynccontextmanager
async def _silent_websocket_server() -> AsyncIterator[str]:
    """Accepts the websocket handshake, then never reads or writes again."""
    stop = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        m = re.search(rb"(?i)sec-websocket-key: *(\S+)", head)
        assert m is not None
        accept = base64.b64encode(hashlib.sha1(m.group(1) + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await writer.drain()
        await stop.wait()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        stop.set()
        server.close()
        await server.wait_closed()


async def test_get_report_gives_the_report_page_when_asked(town: Running, admin: Any) -> None:
    """mayor.py's HTML report is the server's own page (GET /report), not one drawn by the driver."""
    import tornado.httpclient

    await admin.call("tick", count=3)
    async with await tc.TownClient.connect(town.ws_url) as c:
        plain = tc.Report.model_validate(await c.call("get_report"))
        both = tc.Report.model_validate(await c.call("get_report", html=True))
    page = await tornado.httpclient.AsyncHTTPClient().fetch(f"{town.url}/report")
    assert plain.html is None and both.report == plain.report
    assert both.html == page.body.decode() and both.html.count("<svg") >= 5


async def test_an_answer_after_its_caller_gave_up_is_dropped_quietly(
    town: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="townclient")
    async with await tc.TownClient.connect(town.ws_url) as c:
        await c.call("login", token=ADMIN)
        with pytest.raises(TimeoutError):
            await c.call("tick", count=20, timeout=0.001)
        for _ in range(1000):  # bounded: the 20 ticks take well under a second
            if any("gave up" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
        assert any("request 2 came after its caller gave up" in r.getMessage() for r in caplog.records)
        with pytest.raises(TimeoutError):  # it was not taken for a push
            await c.next_push(timeout=0.05)
        assert tc.TickSummary.model_validate(await c.call("tick")).tick == 21
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
