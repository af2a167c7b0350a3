"""`AgentMind`: an agent's access to its model (render, call, parse, re-ask once, count failures),
and the helpers every plug-in uses to turn a `Perception` into prompt context.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent.answers import Utterance
from agent.interfaces import (
    AgentBrief,
    BuildingView,
    Embedder,
    EquipmentView,
    LanguageModel,
    LLMError,
    LLMRequest,
    Message,
    Perception,
    TaskView,
)
from agent.prompts import PromptBook

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


def parse_answer(text: str, answer: type[T]) -> T:
    """`text` parsed as JSON into `answer`; raises ValueError (json) or ValidationError."""
    return answer.model_validate(json.loads(strip_fences(text)))


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
    ) -> None:
        self.agent_id = agent_id
        self.llm = llm
        self.embedder = embedder
        self.prompts = prompts
        self.call_timeout_s = call_timeout_s
        self.on_failure = on_failure
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
        for attempt in (1, 2):
            request = LLMRequest(
                kind=kind, messages=messages, context=context, agent_id=self.agent_id, schema=schema
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


def building_context(b: BuildingView) -> dict[str, Any]:
    """A building as prompt context (JSON-safe)."""
    return {
        "id": b.id,
        "name": b.name,
        "kind": b.kind,
        "description": b.description,
        "equipment": [
            {
                "id": e.id,
                "name": e.name,
                "description": e.description,
                "operations": list(e.operations),
                "price": e.price,
                "income": e.income,
                "free": max(0, e.capacity - e.in_use),
                **_prices(e),
            }
            for e in b.equipment
        ],
    }


def _prices(e: EquipmentView) -> dict[str, Any]:
    """Per-operation prices and the menu, for equipment that has them."""
    out: dict[str, Any] = {}
    if e.functions:
        out["prices"] = {
            name: {"cost": cost, "earn": earn, **({"staff_only": True} if staff else {})}
            for name, cost, earn, staff in e.functions
        }
    if e.menu:
        out["menu"] = dict(e.menu)
    return out


def _brief(a: AgentBrief) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "distance": a.distance, "state": a.state, "purpose": a.purpose}


def _task(t: TaskView) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "reward": t.reward,
        "building_id": t.building_id,
        "holders": len(t.holder_ids),
    }


def perception_context(p: Perception, **extra: Any) -> dict[str, Any]:
    """The context keys every kind may read, from a perception, plus `extra`.

    Keys: agent_id, name, bio, goal, cash, tick, day, minute_of_day, clock, building_id, job,
    buildings (list of building_context), nearby, tasks, events.
    """
    ctx: dict[str, Any] = {
        "agent_id": p.agent_id,
        "name": p.name,
        "bio": p.bio,
        "goal": p.goal,
        "cash": p.cash,
        "tick": p.tick,
        "day": p.day,
        "minute_of_day": p.minute_of_day,
        "clock": p.clock,
        "building_id": p.building_id,
        "job": p.job,
        "buildings": [building_context(b) for b in p.buildings],
        "nearby": [_brief(a) for a in p.nearby],
        "tasks": [_task(t) for t in p.tasks],
        "events": list(p.events),
    }
    ctx.update(extra)
    return ctx


def fallback_building(p: Perception) -> str:
    """A deterministic safe destination: the current building, else the workplace, else the first
    building; "" only when the town has no buildings at all."""
    ids = [b.id for b in p.buildings]
    for candidate in (p.building_id, p.job):
        if candidate is not None and candidate in ids:
            return candidate
    return ids[0] if ids else ""


def resolve_building(p: Perception, choice: str | None) -> str | None:
    """The id of the building the model named (by id, or by name ignoring case), or None."""
    if not choice:
        return None
    wanted = choice.strip()
    for b in p.buildings:
        if b.id == wanted:
            return b.id
    lowered = wanted.lower()
    for b in p.buildings:
        if b.name.lower() == lowered or b.id.lower() == lowered:
            return b.id
    return None


def persona_context(p: Perception, **extra: Any) -> dict[str, Any]:
    """The few keys the persona part of every prompt reads (no town), plus `extra`.

    Keys: agent_id, name, bio, goal, cash, tick, day, clock, building_id.
    """
    ctx: dict[str, Any] = {
        "agent_id": p.agent_id,
        "name": p.name,
        "bio": p.bio,
        "goal": p.goal,
        "cash": p.cash,
        "tick": p.tick,
        "day": p.day,
        "clock": p.clock,
        "building_id": p.building_id,
    }
    ctx.update(extra)
    return ctx


def subject_name(p: Perception, subject: str) -> str:
    """The display name of an agent in sight or a building with id `subject`, else `subject`."""
    for a in p.nearby:
        if a.id == subject:
            return a.name
    for b in p.buildings:
        if b.id == subject:
            return b.name
    return subject
