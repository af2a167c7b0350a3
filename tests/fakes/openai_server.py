"""A local OpenAI-compatible HTTP server for tests and benchmarks, with set latency and faults.

It serves POST /v1/chat/completions and POST /v1/embeddings in the OpenAI JSON shape. Use it:

- in async tests: `async with FakeOpenAIServer(latency=0.05) as srv: ... srv.base_url ...`;
- from another thread: `url, stop = FakeOpenAIServer(latency=0.2).run_in_thread()`;
- as a process: `python -m tests.fakes.openai_server --port 8101 --latency 0.2` (prints the URL).

Faults queued with `inject(...)` apply to the next requests, one each: an HTTP status ("429" comes
with a Retry-After header, "500", "400", ...), "timeout" (hang until `hang_s` passes or the server
stops) or "malformed" (a chat answer that is not valid JSON even when JSON was asked for).

It checks a chat request's `response_format` as the servers it stands for do: `accepts` names the
structured-output modes it takes ("json_schema" as OpenAI and vLLM, "json_object_schema" as
llama-cpp-python's server, "json_object"); another type is refused with HTTP 422, and a
"json_schema" one whose schema breaks OpenAI's strict-mode rules (`strict_schema_errors`) with 400.
An answer longer than the request's `max_tokens` (counted in words) is cut, `finish_reason` "length".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import tornado.httpserver
import tornado.netutil
import tornado.web

log = logging.getLogger(__name__)

Responder = Callable[[dict[str, Any]], str]
CREATED = 1_700_000_000  # a fixed `created` stamp keeps answers deterministic


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault for one request: an HTTP status code, "timeout" or "malformed"."""

    kind: str
    retry_after: float = 1.0  # seconds, sent with a 429


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the server received."""

    path: str
    body: dict[str, Any]


def _count_words(text: str) -> int:
    return len(re.findall(r"\S+", text))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multi-part content: keep the text parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def chat_completion(body: dict[str, Any], content: str, served: int) -> dict[str, Any]:
    """The chat completion object answering request `body` with `content`; tokens are counted
    as words, and an answer of more than the request's `max_tokens` words is cut ("length")."""
    prompt = sum(_count_words(_text_of(m.get("content"))) for m in body.get("messages", []))
    completion = _count_words(content)
    finish = "stop"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and completion > limit:
        content = " ".join(re.findall(r"\S+", content)[:limit])
        completion, finish = limit, "length"
    return {
        "id": f"chatcmpl-fake-{served}",
        "object": "chat.completion",
        "created": CREATED,
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


# JSON Schema keywords OpenAI's strict mode refuses (its documented subset keeps the rest)
STRICT_REFUSED = frozenset(
    "default minLength maxLength minProperties maxProperties patternProperties unevaluatedProperties "
    "propertyNames unevaluatedItems contains minContains maxContains uniqueItems".split()
)
ALL_FORMATS = ("json_schema", "json_object_schema", "json_object")


def strict_schema_errors(schema: Any, where: str = "$") -> list[str]:
    """What OpenAI's strict structured outputs would refuse in `schema`: an object that is not
    closed (`additionalProperties: false`) or does not require every property, a refused keyword."""
    errors: list[str] = []
    if isinstance(schema, dict):
        for key in schema:
            if key in STRICT_REFUSED:
                errors.append(f"{where}: {key!r} is not permitted")
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            if schema.get("additionalProperties") is not False:
                errors.append(f"{where}: additionalProperties must be false")
            if sorted(schema.get("required", [])) != sorted(props):
                errors.append(f"{where}: required must list every property")
            for name, sub in props.items():
                errors.extend(strict_schema_errors(sub, f"{where}.{name}"))
        for key in ("$defs", "definitions"):
            for name, sub in schema.get(key, {}).items():
                errors.extend(strict_schema_errors(sub, f"{where}.{key}.{name}"))
        for key in ("items", "anyOf"):
            sub = schema.get(key)
            for i, part in enumerate(sub if isinstance(sub, list) else [sub] if sub else []):
                errors.extend(strict_schema_errors(part, f"{where}.{key}[{i}]"))
    return errors


def format_mode(body: dict[str, Any]) -> str | None:
    """The structured-output mode a chat request asks for, or None for none."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return "json_object_schema" if "schema" in fmt else "json_object"
    return str(fmt.get("type"))


def format_error(body: dict[str, Any], accepts: tuple[str, ...]) -> tuple[int, str] | None:
    """(status, message) refusing a chat request's `response_format`, or None when it is fine."""
    mode = format_mode(body)
    if mode is None or mode == "text":
        return None
    if mode not in accepts:
        return 422, f"response_format {mode} is not supported by this server"
    if mode == "json_schema":
        spec = body["response_format"].get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            return 400, "response_format json_schema needs a json_schema object with a schema"
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", str(spec.get("name", ""))):
            return 400, "response_format json_schema needs a name of letters, digits, _ and -"
        if spec.get("strict") is True:
            errors = strict_schema_errors(spec["schema"])
            if errors:
                return 400, f"Invalid schema for response_format {spec['name']!r}: " + "; ".join(errors)
    return None


def wants_json(body: dict[str, Any]) -> bool:
    """Whether a chat request asked for a JSON object answer."""
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def echo_responder(body: dict[str, Any]) -> str:
    """The default answer: the last user message echoed, as a JSON object when JSON was asked."""
    last = next(
        (_text_of(m.get("content")) for m in reversed(body.get("messages", [])) if m.get("role") == "user"),
        "",
    )
    return json.dumps({"echo": last}) if wants_json(body) else f"echo: {last}"


def fake_embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for `text` (not meaningful: only stable)."""
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(dim)
    return (v / np.linalg.norm(v)).tolist()


def _quiet_access_log(handler: tornado.web.RequestHandler) -> None:
    log.debug("%d %s", handler.get_status(), handler.request.path)


class _Handler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeOpenAIServer) -> None:
        self.fake = fake
        self.gone = False

    def on_connection_close(self) -> None:
        self.gone = True

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        return None

    async def post(self, endpoint: str) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            self._error(400, "the body is not JSON", "invalid_request_error")
            return
        if not isinstance(body, dict):
            self._error(400, "the body must be a JSON object", "invalid_request_error")
            return
        fake = self.fake
        fault = fake._begin(self.request.path, body)
        try:
            if fake.latency > 0:
                await asyncio.sleep(fake.latency)
            if fault is not None and fault.kind == "timeout":
                await fake._hang()
                self._error(504, "the fake server hung on purpose", "timeout")
            elif fault is not None and fault.kind.isdigit():
                self._fault_status(fault)
            elif endpoint == "embeddings":
                self._send(self._embeddings(body))
            elif (refused := format_error(body, fake.accepts)) is not None:
                self._error(refused[0], refused[1], "invalid_request_error")
            else:
                self._send(self._chat(body, malformed=fault is not None and fault.kind == "malformed"))
        finally:
            fake._end()

    def _chat(self, body: dict[str, Any], *, malformed: bool) -> dict[str, Any]:
        fake = self.fake
        content = '{"echo": "this is not valid json' if malformed else fake.responder(body)
        return chat_completion(body, content, fake.served)

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("input", [])
        texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
        as_b64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = fake_embedding(text, self.fake.embedding_dim)
            emb: Any = base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode() if as_b64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(_count_words(t) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _fault_status(self, fault: Fault) -> None:
        status = int(fault.kind)
        if status == 429:
            self.set_header("Retry-After", f"{fault.retry_after:g}")
            self._error(429, "rate limited by the fake server", "rate_limit_error")
        else:
            self._error(
                status,
                f"fault {status} injected by the fake server",
                "server_error" if status >= 500 else "invalid_request_error",
            )

    def _error(self, status: int, message: str, kind: str) -> None:
        self.set_status(status)
        self._send({"error": {"message": message, "type": kind, "code": str(status)}})

    def _send(self, doc: dict[str, Any]) -> None:
        if self.gone:
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc))


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 with settable latency, faults and answers.

    `requests` holds what it received (when `record` is set); `served`, `in_flight` and
    `max_in_flight` count requests; `accepts` is the structured-output modes it takes.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        responder: Responder = echo_responder,
        faults: tuple[Fault | str, ...] = (),
        hang_s: float = 30.0,
        embedding_dim: int = 64,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        accepts: tuple[str, ...] = ALL_FORMATS,
    ) -> None:
        self.latency = latency
        self.accepts = accepts
        self.responder = responder
        self.hang_s = hang_s
        self.embedding_dim = embedding_dim
        self.record = record
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.served = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[Fault] = deque()
        self._server: tornado.httpserver.HTTPServer | None = None
        self._stopping: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._arrivals: list[asyncio.Future[None]] = []  # `wait_in_flight` callers, woken per request
        self.inject(*faults)

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI client as `base_url`."""
        return f"http://{self.host}:{self.port}/v1"

    def profile(self, **kw: Any) -> dict[str, Any]:
        """Settings for an `openai` LLM profile that talks to this server; `kw` adds or overrides."""
        return {
            "provider": "openai",
            "base_url": self.base_url,
            "api_key": "test",
            "model": "fake-model",
            **kw,
        }

    def inject(self, *faults: Fault | str) -> None:
        """Queue faults for the next requests, one fault per request."""
        self._faults.extend(f if isinstance(f, Fault) else Fault(f) for f in faults)

    async def wait_in_flight(self, n: int, timeout: float = 10.0) -> None:
        """Return once `n` requests are being served at the same time (same event loop only)."""
        async with asyncio.timeout(timeout):
            while self.in_flight < n:
                arrived = asyncio.get_running_loop().create_future()
                self._arrivals.append(arrived)
                await arrived

    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of the chat completion requests received."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    async def start(self) -> str:
        """Listen (on a free port when `port` is 0); returns `base_url`."""
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        app = tornado.web.Application(
            [(r"/v1/(chat/completions|embeddings)", _Handler, {"fake": self})],
            log_function=_quiet_access_log,  # injected 4xx/5xx are the point, not warnings
        )
        sockets = tornado.netutil.bind_sockets(self.port, self.host, backlog=4096)
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app, idle_connection_timeout=60)
        self._server.add_sockets(sockets)
        log.debug("fake OpenAI server listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Stop listening, wake hung requests, wait for handlers and close every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        assert self._stopping is not None and self._idle is not None
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=max(5.0, 2 * self.latency))
        await server.close_all_connections()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def run_in_thread(self) -> tuple[str, Callable[[], None]]:
        """Serve from a daemon thread with its own event loop; returns `(base_url, stop)`."""
        ready = threading.Event()
        state: dict[str, Any] = {}

        async def serve() -> None:
            state["loop"] = asyncio.get_running_loop()
            state["done"] = done = asyncio.Event()
            try:
                await self.start()
            except BaseException as e:
                state["error"] = e
                raise
            finally:
                ready.set()
            try:
                await done.wait()
            finally:
                await self.stop()

        thread = threading.Thread(target=lambda: asyncio.run(serve()), name="fake-openai", daemon=True)
        thread.start()
        if not ready.wait(10) or "error" in state:
            raise RuntimeError(f"the fake OpenAI server did not start: {state.get('error')}")

        def stop() -> None:
            state["loop"].call_soon_threadsafe(state["done"].set)
            thread.join(10)

        return self.base_url, stop

    # -- used by the handler

    def _begin(self, path: str, body: dict[str, Any]) -> Fault | None:
        self.served += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self._idle is not None:
            self._idle.clear()
        if self.record:
            self.requests.append(RecordedRequest(path, body))
        waiting, self._arrivals = self._arrivals, []
        for f in waiting:
            if not f.done():
                f.set_result(None)
        return self._faults.popleft() if self._faults else None

    def _end(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def _hang(self) -> None:
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=self.hang_s)


async def _main(args: argparse.Namespace) -> None:
    server = FakeOpenAIServer(
        latency=args.latency, embedding_dim=args.embedding_dim, record=False, host=args.host, port=args.port
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    url = await server.start()
    sys.stdout.write(f"{url}\n")  # the one line a benchmark script reads
    sys.stdout.flush()
    try:
        await done.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="A local OpenAI-compatible fake server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--embedding-dim", type=int, default=64)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
