"""`AgentMind`: an agent's access to its model (render, call, parse, re-ask once, count failures).
The helpers that turn a `Perception` into prompt context live in `agent/prompts/context.py`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent.interfaces import (
    Embedder,
    LanguageModel,
    LLMError,
    LLMRequest,
    Message,
)
from agent.prompts import PromptBook
from agent.prompts.schemas import Utterance

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

_FENCE = "```"
_ERROR_MAX = 800


def strip_fences(text: str) -> str:
    """The JSON inside an answer: drops a ```json ... ``` fence and any prose around the object."""
    body = text.strip()
    start = body.find(_FENCE)
    if start != -1:
        inner = body[start + len(_FENCE) :]
        end = inner.find(_FENCE)
        if end != -1:
            inner = inner[:end]
        first_line, newline, rest = inner.partition("\n")
        if newline and first_line.strip().lower() in {"json", "json5", ""}:
            inner = rest
        body = inner.strip()
    if not body.startswith("{"):
        left, right = body.find("{"), body.rfind("}")
        if left != -1 and right > left:
            body = body[left : right + 1]
    return body


def common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of `a` and `b` (compares halving slices)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # invariant: a[:lo] == b[:lo]
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def parse_answer(text: str, answer: type[T]) -> T:
    """`text` parsed as JSON into `answer`; raises ValueError (json) or ValidationError. Control
    characters inside strings (a raw newline, which grammar-constrained local models write) are
    taken as they are."""
    return answer.model_validate(json.loads(strip_fences(text), strict=False))


class AgentMind:
    """Renders a prompt kind, asks the model under a timeout, parses the JSON answer into its model.

    A parse or validation failure is re-asked once with the error; a second failure, an
    `LLMError` or a timeout returns None, appends `(kind, reason)` to `failures` and calls
    `on_failure`. `calls` counts model calls and `tokens` their total usage, for the tick summary.
    `say` answers through the `Utterance` model ({"text": ...}) and returns the text.
    """

    def __init__(
        self,
        agent_id: str,
        llm: LanguageModel,
        embedder: Embedder,
        prompts: PromptBook,
        *,
        call_timeout_s: float,
        on_failure: Callable[[str, str], None] | None = None,
        last_prompts: dict[str, str] | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.llm = llm
        self.embedder = embedder
        self.prompts = prompts
        self.call_timeout_s = call_timeout_s
        self.on_failure = on_failure
        self.last_prompts = last_prompts if last_prompts is not None else {}
        self.calls = 0
        self.tokens = 0
        self.failures: list[tuple[str, str]] = []

    async def ask(self, kind: str, context: Mapping[str, Any], answer: type[T]) -> T | None:
        """The model's answer to `kind` as an `answer`, or None after a counted failure."""
        if answer is not self.prompts.answer_model(kind):
            raise TypeError(
                f"kind {kind!r} answers {self.prompts.answer_model(kind).__name__}, not {answer.__name__}"
            )
        messages = self.prompts.render(kind, context)
        schema = self.prompts.schema(kind)
        max_tokens = self.prompts.max_tokens(kind)
        for attempt in (1, 2):
            request = LLMRequest(
                kind=kind,
                messages=messages,
                context=context,
                agent_id=self.agent_id,
                schema=schema,
                max_tokens=max_tokens,
                shared_prefix=self._shared_prefix(messages),
            )
            try:
                async with asyncio.timeout(self.call_timeout_s):
                    result = await self.llm.complete(request)
            except TimeoutError:
                self._fail(kind, f"timeout after {self.call_timeout_s:g}s")
                return None
            except LLMError as exc:
                self._fail(kind, f"llm error: {exc}")
                return None
            finally:
                self.calls += 1
            self.tokens += result.usage.total
            try:
                return parse_answer(result.text, answer)
            except (ValueError, ValidationError) as exc:
                error = str(exc)[:_ERROR_MAX]
                if attempt == 2:
                    self._fail(kind, f"bad answer twice: {error}")
                    return None
                messages = (
                    *messages,
                    Message("assistant", result.text),
                    Message(
                        "user",
                        f"That answer was not valid: {error}\n"
                        "Answer again with ONE JSON object that matches the schema.",
                    ),
                )
        return None  # pragma: no cover - the loop always returns

    def _shared_prefix(self, messages: tuple[Message, ...]) -> float:
        """The share of `messages`' text that repeats the start of this agent's previous prompt,
        and remember these messages as the previous prompt."""
        text = "".join(f"{m.role}\x00{m.content}\x01" for m in messages)
        previous = self.last_prompts.get(self.agent_id, "")
        self.last_prompts[self.agent_id] = text
        return common_prefix(previous, text) / len(text) if text else 0.0

    async def say(self, kind: str, context: Mapping[str, Any]) -> str | None:
        """One line said in character (kinds answering `Utterance`: chat, reply_player), or None."""
        line = await self.ask(kind, context, Utterance)
        return None if line is None else line.text

    def _fail(self, kind: str, reason: str) -> None:
        self.failures.append((kind, reason))
        log.info("agent %s: %s failed: %s", self.agent_id, kind, reason)
        if self.on_failure is not None:
            self.on_failure(kind, reason)


# ------------------------------------------------------------------ context helpers
