"""The models an LLM's answers are parsed into, one per prompt kind (see `agent/prompts/`).

Strict on field names (`extra="forbid"`), forgiving on what models commonly send: surrounding
whitespace, numbers as strings ("7"), an action in capitals ("Use"), a list longer than asked for
(trimmed) or a text too long (cut). Bounds are kept by clamping, not by refusing.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_TEXT_MAX = 600
_LINE_MAX = 400
_QA_LINE_MAX = 150
_LIST_MAX = 12


def whole(text: str, limit: int) -> str:
    """`text` within `limit` characters, never cut mid-word: at the last sentence end that fits,
    else at the last space (with an ellipsis)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if end >= limit // 2:
        return head[: end + 1]
    space = head.rfind(" ", 0, limit - 3)
    return (head[:space] if space > 0 else head[: limit - 3]).rstrip(",;:") + "..."


def _cut(limit: int) -> BeforeValidator:
    def cut(value: Any) -> Any:
        if isinstance(value, str):
            return whole(value.strip(), limit)
        return value

    return BeforeValidator(cut)


def _trim_list(limit: int) -> BeforeValidator:
    def trim(value: Any) -> Any:
        if isinstance(value, list):
            return value[:limit]
        if isinstance(value, str):  # a lone string where a list was asked for
            return [value]
        return value

    return BeforeValidator(trim)


def _clamp(lo: int, hi: int) -> BeforeValidator:
    """A whole number kept within [lo, hi]: a number out of range (or given as a string) is
    clamped and rounded, so a model that says 300 minutes gets 240, not a re-ask."""

    def clamp(value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            return value  # let pydantic report it
        if number != number:  # NaN
            return value
        return int(min(float(hi), max(float(lo), round(number))))

    return BeforeValidator(clamp)


# int answer fields kept within their bounds by clamping (the schema still states the bounds)
StayMinutes = Annotated[int, _clamp(5, 240), Field(ge=5, le=240)]
Minutes = Annotated[int, _clamp(1, 240), Field(ge=1, le=240)]
Hour = Annotated[int, _clamp(0, 23), Field(ge=0, le=23)]
Quantity = Annotated[int, _clamp(1, 99), Field(ge=1, le=99)]


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in {"", "none", "null"}:
        return None
    return value


Text = Annotated[str, _cut(_TEXT_MAX)]
Line = Annotated[str, _cut(_LINE_MAX), Field(min_length=1)]
# A question or answer of the qa plan's round: its length is in the schema too, so a server that
# builds a grammar from the schema (llama.cpp) stops a small model's rambling within max_tokens
QALine = Annotated[str, _cut(_QA_LINE_MAX), Field(min_length=1, max_length=_QA_LINE_MAX)]
OptionalId = Annotated[str | None, BeforeValidator(_blank_to_none)]


class Answer(BaseModel):
    """Base of every answer model: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QAQuestions(Answer):
    """qa_ask: questions about the goal."""

    questions: Annotated[list[QALine], _trim_list(5), Field(min_length=1, max_length=5)]


class QAAnswers(Answer):
    """qa_answer: one answer per question, in order."""

    answers: Annotated[list[QALine], _trim_list(5), Field(min_length=1, max_length=5)]


class QAChoice(Answer):
    """qa_choose: where to go and why."""

    building: Annotated[str, Field(min_length=1)]
    purpose: Line
    minutes: StayMinutes = 60  # how long to stay there


class DailyPlan(Answer):
    """daily_plan: the day in broad strokes."""

    plan: Annotated[list[Line], _trim_list(_LIST_MAX), Field(min_length=1)]


class HourSlot(Answer):
    """One hour of the schedule."""

    hour: Hour
    activity: Line
    building: Annotated[str, Field(min_length=1)]


class HourlySchedule(Answer):
    """hourly_schedule: what to do from which hour, and where."""

    schedule: Annotated[list[HourSlot], _trim_list(24), Field(min_length=1)]


class TaskStep(Answer):
    """One decomposed task of an hour."""

    task: Line
    minutes: Minutes = 20
    building: Annotated[str, Field(min_length=1)]


class Decomposition(Answer):
    """decompose: the hour's activity as a few short tasks."""

    tasks: Annotated[list[TaskStep], _trim_list(8), Field(min_length=1)]


class Reaction(Answer):
    """react: whether an event warrants changing the plan."""

    replan: bool
    reason: Text = ""


class ActDecision(Answer):
    """act: what to do inside a building."""

    action: Literal["use", "chat", "leave", "wait"]
    equipment: OptionalId = None  # equipment id, for "use"
    operation: OptionalId = None  # one of the equipment's operations, for "use"
    target: OptionalId = None  # agent id, for "chat"
    minutes: Minutes | None = None  # how long a use or a wait lasts
    order: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=64)], Quantity],
        BeforeValidator(lambda v: {} if v is None else v),
        Field(max_length=12),
    ] = Field(default_factory=dict)  # menu item -> quantity, for "use" of an equipment with a menu
    reason: Text = ""

    @field_validator("action", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class Utterance(Answer):
    """chat and reply_player: one line said in character. Words only: it can move nothing.
    `end` closes the conversation (a goodbye); `news` names a piece of news the line passes on."""

    text: Line
    end: bool = False
    news: Annotated[str | None, BeforeValidator(_blank_to_none), _cut(300)] = None


class Importance(Answer):
    """importance: how poignant a memory is, 1 (mundane) to 10 (life-changing)."""

    score: int

    @field_validator("score", mode="before")
    @classmethod
    def _clamp(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value  # let pydantic report it
        return int(min(10.0, max(1.0, round(number))))


class Reflection(Answer):
    """reflect: high-level insights drawn from recent memories."""

    insights: Annotated[list[Line], _trim_list(5), Field(min_length=1)]


class ImpressionAnswer(Answer):
    """impression: the agent's current impression of a person or building."""

    impression: Line


class ExperienceAnswer(Answer):
    """experience: what a finished plan taught the agent."""

    summary: Line
    success: bool = True


class TaskDecision(Answer):
    """task_decide: which announced task to take, if any."""

    take: OptionalId = None
    reason: Text = ""


class MayorTask(Answer):
    """One task a mayor agent proposes: the server validates `condition` as a task condition."""

    title: Line
    description: Text = ""
    reward: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    building: OptionalId = None
    deadline_ticks: Annotated[int | None, Field(ge=1, le=100_000)] = None
    condition: dict[str, Any]


class MayorPlan(Answer):
    """mayor_plan: the tasks a mayor agent posts now toward its town goal (none: wait)."""

    tasks: Annotated[list[MayorTask], _trim_list(3)] = Field(default_factory=list)
    reason: Text = ""


ANSWER_MODELS: MappingProxyType[str, type[Answer]] = MappingProxyType(
    {
        model.__name__: model
        for model in (
            QAQuestions,
            QAAnswers,
            QAChoice,
            DailyPlan,
            HourlySchedule,
            Decomposition,
            Reaction,
            ActDecision,
            Utterance,
            Importance,
            Reflection,
            ImpressionAnswer,
            ExperienceAnswer,
            TaskDecision,
            MayorPlan,
        )
    }
)
"""Every answer model by class name; prompt templates name theirs here."""
