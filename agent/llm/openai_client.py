"""The network model: any OpenAI-compatible chat server through the official `openai` SDK.

The SDK's own retries are off (`max_retries=0`); `RetryingModel` retries instead, so every
attempt passes through our limiter and metering. SDK errors become `LLMError` with `retryable`
and `retry_after` set, so no caller ever sees an SDK exception type.
"""

from __future__ import annotations

import email.utils
import inspect
import itertools
import logging
import math
import ssl
import time
from typing import Any, Literal

import openai
import orjson
from openai import AsyncOpenAI

from agent.interfaces import LLMError, LLMRequest, LLMResult, Usage
from agent.llm.http11 import StreamTransport
from agent.llm.sdk_http import httpx
from agent.llm.structured import FALLBACK_ORDER, STRUCTURED_OUTPUTS, next_mode, response_format
from config.settings import LLMProfile

log = logging.getLogger(__name__)

# Status codes a later attempt may get past: request timeout, rate limit, server errors.
_RETRYABLE_STATUS = frozenset({408, 429})
_NO_KEY = "sk-no-key-needed"  # local servers (vLLM, Ollama, llama.cpp) ignore the key
# httpx's pool costs more per request the bigger it is; many small pools beat one big one.
_CONNECTIONS_PER_CLIENT = 64


def plain_http(base_url: str | None) -> bool:
    """Whether `base_url` is plain http (a local server), which `StreamTransport` speaks."""
    return base_url is not None and base_url.lower().startswith("http://")


def make_client(
    *,
    base_url: str | None,
    api_key: str | None,
    timeout_s: float,
    connections: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
    stream_transport: bool | None = None,
) -> AsyncOpenAI:
    """An `AsyncOpenAI` client with SDK retries off, keeping up to `connections` alive.

    A local `base_url` needs no key. `stream_transport` sends over `StreamTransport` (default:
    for a plain-http `base_url`), else over httpx's transport. Clients built together should
    share one `ssl_context`: building one loads the CA bundle (about 30 ms).
    """
    if api_key is None and base_url is not None:
        api_key = _NO_KEY
    http_client = None
    if stream_transport is None:
        stream_transport = plain_http(base_url)
    if stream_transport:
        transport = StreamTransport(max_idle=max(1, connections or _CONNECTIONS_PER_CLIENT))
        http_client = openai.DefaultAsyncHttpxClient(transport=transport)
    elif connections is not None or ssl_context is not None:
        kw: dict[str, Any] = {"verify": ssl_context if ssl_context is not None else True}
        if connections is not None:
            kw["limits"] = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        http_client = openai.DefaultAsyncHttpxClient(**kw)
    return AsyncOpenAI(
        base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0, http_client=http_client
    )


def retry_after_seconds(headers: Any) -> float | None:
    """The server's Retry-After advice in seconds (`retry-after-ms`, seconds or an HTTP date)."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        value = when.timestamp() - time.time()  # an HTTP date is wall-clock by definition
    return max(0.0, value) if math.isfinite(value) else None


def translate_error(exc: openai.OpenAIError, model: str) -> LLMError:
    """An SDK exception as an `LLMError`: rate limits, 5xx, timeouts and lost connections retry."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in _RETRYABLE_STATUS or status >= 500
        after = retry_after_seconds(exc.response.headers) if status == 429 else None
        return LLMError(f"{model}: HTTP {status}: {_short(exc)}", retryable=retryable, retry_after=after)
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(f"{model}: request timed out", retryable=True, timed_out=True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(f"{model}: connection error: {_short(exc)}", retryable=True)
    return LLMError(f"{model}: {type(exc).__name__}: {_short(exc)}", retryable=False)


# What `chat.completions.create` sends with every request: the API key as a bearer token.
_CHAT_OPTIONS: Any = {"security": {"bearer_auth": True}}
# Current SDKs take a ready body as `post(content=bytes)`; older ones (before `content`) take
# only `body=`, a mapping they encode themselves.
_POST_TAKES_CONTENT = "content" in inspect.signature(AsyncOpenAI.post).parameters


def _result(raw: bytes, model: str, latency: float, max_tokens: int | None = None) -> LLMResult:
    """An `LLMResult` from the body of a chat completion; a malformed one is a retryable error,
    one cut at `max_tokens` (`finish_reason` "length") a final one that still carries its usage."""
    try:
        body = orjson.loads(raw)
        choices = body.get("choices") or []
        if not choices:
            raise LLMError(f"{model}: the answer has no choices", retryable=True)
        text = (choices[0].get("message") or {}).get("content") or ""
        raw_usage = body.get("usage") or {}
        usage = Usage(int(raw_usage.get("prompt_tokens") or 0), int(raw_usage.get("completion_tokens") or 0))
        finish = choices[0].get("finish_reason")
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
        raise LLMError(f"{model}: the answer is not a chat completion: {e}", retryable=True) from None
    if finish == "length":  # the same request would be cut again: not retried
        raise LLMError(
            f"{model}: answer truncated at max_tokens={max_tokens} ({usage.completion_tokens} tokens)",
            retryable=False,
            usage=usage,
        )
    return LLMResult(
        text=text if isinstance(text, str) else str(text),
        usage=usage,
        model=body.get("model") or model,
        latency_s=latency,
    )


def _refuses_format(exc: openai.OpenAIError) -> bool:
    """Whether a server refused a request for its `response_format` (HTTP 400 or 422 naming it)."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in (400, 422):
        return False
    text = f"{exc.message} {exc.body}".lower()
    return any(word in text for word in ("response_format", "json_schema", "schema"))


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


class OpenAIModel:
    """A `LanguageModel` over an OpenAI-compatible chat completions endpoint.

    A plain-http `base_url` (a local server) is spoken to over `StreamTransport`, one client,
    unless `transport` is "httpx"; over httpx (https, or that setting), `connections` is how many
    calls may be in flight (match the limiter's
    concurrency), spread round-robin over httpx clients of at most 64 connections each.
    `client` overrides all that. `structured_output` says how a request's schema is sent
    (`agent.llm.structured`); under "auto", a server that refuses a format gets the next one.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        connections: int = 64,
        client: AsyncOpenAI | None = None,
        transport: Literal["streams", "httpx"] = "streams",
        structured_output: str = "auto",
    ) -> None:
        if structured_output not in STRUCTURED_OUTPUTS:
            raise ValueError(
                f"unknown structured_output {structured_output!r}; valid: {', '.join(STRUCTURED_OUTPUTS)}"
            )
        self.name = model
        self.auto_format = structured_output == "auto"
        self.structured_output = FALLBACK_ORDER[0] if self.auto_format else structured_output
        # (mode, id(schema)) -> (schema, response_format); the schema is kept so its id stays its own
        self._formats: dict[tuple[str, int], tuple[Any, dict[str, Any] | None]] = {}
        # what the requests go over: "streams" (StreamTransport), "httpx", or "given" (`client`)
        self.transport = "given" if client is not None else "httpx"
        if client is not None:
            self._clients = [client]
        elif plain_http(base_url) and transport == "streams":  # one pool: its cost does not grow with size
            self.transport = "streams"
            self._clients = [
                make_client(
                    base_url=base_url,
                    api_key=api_key,
                    timeout_s=timeout_s,
                    connections=connections,
                    stream_transport=True,
                )
            ]
        else:
            shards = max(1, math.ceil(connections / _CONNECTIONS_PER_CLIENT))
            per = max(1, math.ceil(connections / shards))
            ctx = httpx.create_ssl_context()  # one CA bundle load for every shard
            self._clients = [
                make_client(
                    base_url=base_url,
                    api_key=api_key,
                    timeout_s=timeout_s,
                    connections=per,
                    ssl_context=ctx,
                    stream_transport=False,
                )
                for _ in range(shards)
            ]
        self._next_client = itertools.cycle(self._clients)

    @classmethod
    def from_profile(cls, profile: LLMProfile, *, connections: int = 64) -> OpenAIModel:
        """The model a settings profile describes."""
        return cls(
            profile.model,
            base_url=profile.base_url,
            api_key=profile.api_key,
            timeout_s=profile.timeout_s,
            connections=connections,
            transport=profile.transport,
            structured_output=profile.structured_output,
        )

    def _format(self, request: LLMRequest) -> dict[str, Any] | None:
        """The `response_format` of a request in the current mode (built once per schema)."""
        schema = request.schema
        if schema is None:
            return None
        key = (self.structured_output, id(schema))
        hit = self._formats.get(key)
        if hit is None or hit[0] is not schema:
            hit = (schema, response_format(self.structured_output, schema, name=request.kind))
            self._formats[key] = hit
        return hit[1]

    async def complete(self, request: LLMRequest) -> LLMResult:
        """One chat completion; the request's schema as `structured_output` says.

        Sent with the SDK's `post` as JSON bytes (a mapping for SDKs older than `content=`)
        and read as bytes: the body we build is already the wire format, so the SDK's TypedDict
        transform of the parameters (a quarter of a call's CPU), its JSON encoding and the
        pydantic `ChatCompletion` it would build from the answer are skipped; the SDK still
        does auth, headers, timeouts and HTTP errors (as `openai.APIStatusError`)."""
        params: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
        }
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        started = time.perf_counter()
        while True:
            mode = self.structured_output
            fmt = self._format(request)
            if fmt is not None:
                params["response_format"] = fmt
            else:
                params.pop("response_format", None)
            try:
                raw = await self._post(params)
                break
            except openai.OpenAIError as exc:
                if fmt is not None and self.auto_format and _refuses_format(exc):
                    if self.structured_output != mode:  # a call at the same time already stepped down
                        continue
                    fallback = next_mode(mode)
                    if fallback is not None:
                        self.structured_output = fallback
                        log.warning(
                            "model %s: the server refused response_format %s (%s); using %s from now on",
                            self.name,
                            mode,
                            _short(exc, 160),
                            fallback,
                        )
                        continue
                err = translate_error(exc, self.name)
                log.debug("agent %s: %s call failed: %s", request.agent_id, request.kind, err)
                raise err from exc
        latency = time.perf_counter() - started
        return _result(raw, self.name, latency, request.max_tokens)

    async def _post(self, params: dict[str, Any]) -> bytes:
        client = next(self._next_client)
        if _POST_TAKES_CONTENT:
            return await client.post(
                "/chat/completions", content=orjson.dumps(params), cast_to=bytes, options=_CHAT_OPTIONS
            )
        return await client.post(  # pragma: no cover - older SDKs
            "/chat/completions", body=params, cast_to=bytes, options=_CHAT_OPTIONS
        )

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        for client in self._clients:
            await client.close()
