"""The record/replay cache of model answers: one JSON file per request key on disk.

A run recorded with a real model replays identically offline: repeated identical requests are
kept in order and replayed in order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from agent.interfaces import LanguageModel, LLMError, LLMRequest, LLMResult, Usage

log = logging.getLogger(__name__)

CacheMode = Literal["off", "record", "replay", "auto"]
CACHE_MODES: tuple[CacheMode, ...] = ("off", "record", "replay", "auto")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def cache_key(model: str, request: LLMRequest) -> str:
    """The sha256 naming a request in the cache.

    It covers the model name, kind, agent, messages, schema, temperature and max_tokens. The
    agent is part of it so that agents running concurrently cannot swap answers on replay.
    """
    payload = {
        "model": model,
        "kind": request.kind,
        "agent": request.agent_id,
        "messages": [[m.role, m.content] for m in request.messages],
        "schema": _plain(request.schema),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class CachingModel:
    """A record/replay cache on disk: `directory/ab/abcd....json`, one file per request key.

    A file holds the answers to every occurrence of its key in a run, in order: occurrence n of a
    key replays entry n. Modes: "record" calls the model and overwrites the run's entries; "replay"
    never calls it (a miss is a non-retryable `LLMError` naming the key); "auto" replays what is
    there and records the rest; "off" passes through. A failed call is recorded and replayed as
    the same failure, so a replay follows the recorded run step for step.
    """

    def __init__(self, inner: LanguageModel, directory: str | Path, mode: CacheMode = "auto") -> None:
        if mode not in CACHE_MODES:
            raise ValueError(f"cache mode must be one of {', '.join(CACHE_MODES)}, not {mode!r}")
        self.inner = inner
        self.name = inner.name
        self.directory = Path(directory)
        self.mode = mode
        self._occurrences: dict[str, int] = {}
        self._entries: dict[str, list[dict[str, Any] | None]] = {}

    def path(self, key: str) -> Path:
        """The file holding a key's entries."""
        return self.directory / key[:2] / f"{key}.json"

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The cached answer to this occurrence of the request, or the inner model's."""
        if self.mode == "off":
            return await self.inner.complete(request)
        key = cache_key(self.name, request)
        n = self._occurrences.get(key, 0)
        self._occurrences[key] = n + 1
        entries = self._load(key)
        entry = entries[n] if n < len(entries) else None
        if entry is not None and (self.mode == "replay" or (self.mode == "auto" and "error" not in entry)):
            return self._replay(entry)
        if self.mode == "replay":
            raise LLMError(
                f"cache miss in replay mode: key {key} occurrence {n + 1} (kind {request.kind!r}, "
                f"agent {request.agent_id}) is not in {self.path(key)}; record it with cache_mode "
                f"'record' or 'auto'",
                retryable=False,
            )
        try:
            result = await self.inner.complete(request)
        except LLMError as err:
            self._store(key, n, {"error": str(err)}, request)
            raise
        usage = result.usage
        record = {
            "text": result.text,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "model": result.model,
        }
        self._store(key, n, record, request)
        return result

    def _replay(self, entry: Mapping[str, Any]) -> LLMResult:
        if "error" in entry:
            raise LLMError(f"(replayed) {entry['error']}", retryable=False)
        usage = Usage(int(entry.get("prompt_tokens", 0)), int(entry.get("completion_tokens", 0)))
        return LLMResult(text=entry["text"], usage=usage, model=entry.get("model") or self.name, cached=True)

    def _load(self, key: str) -> list[dict[str, Any] | None]:
        entries = self._entries.get(key)
        if entries is None:
            entries = [] if self.mode == "record" else self._read(key)
            self._entries[key] = entries
        return entries

    def _read(self, key: str) -> list[dict[str, Any] | None]:
        path = self.path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as e:
            raise LLMError(f"cache file {path} cannot be read: {e}", retryable=False) from e
        entries = data.get("entries") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise LLMError(f"cache file {path} has no 'entries' list", retryable=False)
        return entries

    def _store(self, key: str, n: int, entry: dict[str, Any], request: LLMRequest) -> None:
        entries = self._load(key)
        entries.extend([None] * (n + 1 - len(entries)))
        entries[n] = entry
        doc = {
            "key": key,
            "model": self.name,
            "kind": request.kind,
            "agent_id": request.agent_id,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "entries": entries,
        }
        _write_atomic(self.path(key), json.dumps(doc, ensure_ascii=False, indent=1))

    async def aclose(self) -> None:
        """Close the inner model."""
        await self.inner.aclose()


def _write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:12]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
