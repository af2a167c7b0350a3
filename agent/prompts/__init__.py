"""Prompt templates as data (`prompts.toml`) and the one function that renders them.

A `PromptBook` loads every template once; `PromptBook.render(kind, context)` (or the module-level
`render`, which uses the packaged book) turns a kind and its context into a system and a user
message. Each kind names its answer model (agent/prompts/schemas.py), whose JSON schema is put into the
system message and is what `answer_model(kind)` returns for the caller's `LLMRequest.schema`.
Each kind also bounds its answer with `max_tokens` (`PromptBook.max_tokens(kind)`).
"""

from __future__ import annotations

import functools
import json
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from agent.interfaces import Message
from agent.prompts.schemas import ANSWER_MODELS, Answer

DEFAULT_PATH = Path(__file__).with_name("prompts.toml")
_NONE = "(none)"
_MARKER = "<<<"


class UnknownPromptKind(LookupError):
    """A prompt kind that no template defines."""

    def __init__(self, kind: str, valid: tuple[str, ...]) -> None:
        super().__init__(f"unknown prompt kind {kind!r}; valid kinds: {', '.join(valid)}")
        self.kind = kind
        self.valid = valid


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """One kind's templates and answer model."""

    kind: str
    system: string.Template
    user: string.Template
    answer: type[Answer]
    max_tokens: int  # the answer's bound: a longer one is cut by the server and counted as failed
    untrusted: tuple[str, ...] = ()


class _Fields(dict[str, str]):
    """Template fields, each converted from the context when a template first asks for it (a
    context carries more than any one prompt shows); a key the context lacks renders as "(none)".
    `places` is the town's places as stable prefix text (`places_text`), from `buildings`."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        super().__init__()
        self._context = context

    def __missing__(self, key: str) -> str:
        if key == "places" and "places" not in self._context:
            text = places_text(self._context.get("buildings"))
            self[key] = text
            return text
        text = to_text(self._context[key]) if key in self._context else _NONE
        self[key] = text
        return text


def to_text(value: Any) -> str:
    """A context value as prompt text: scalars as is, string lists as "- " lines, else compact JSON."""
    if value is None:
        return _NONE
    if isinstance(value, str):
        return value if value.strip() else _NONE
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, list | tuple):
        if not value:
            return _NONE
        if all(isinstance(v, str) for v in value):
            return "\n".join(f"- {v}" for v in value)
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS).decode()


def places_text(buildings: Any) -> str:
    """The town's places, one line each ("id: name, kind; description"), without what changes
    (who uses what): the same text in every prompt of a tick, so it belongs to the stable prefix."""
    if not isinstance(buildings, list | tuple) or not buildings:
        return _NONE
    key = tuple(
        (str(b.get("id")), str(b.get("name")), str(b.get("kind")), str(b.get("description")))
        for b in buildings
        if isinstance(b, Mapping)
    )
    return places_lines(key)


@functools.lru_cache(maxsize=16)
def places_lines(key: tuple[tuple[str, str, str, str], ...]) -> str:
    """`places_text` of (id, name, kind, description) rows, cached."""
    return "\n".join(f"- {i}: {name}, {kind}; {desc}" for i, name, kind, desc in key)


def _plain(value: Any) -> Any:
    """What orjson cannot write itself: read-only mappings as dicts, sets as sorted lists, else text."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


class PromptBook:
    """Every prompt template, loaded and checked once. Unknown kinds are refused with the valid ones."""

    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        common = data.get("common", {})
        self._persona = string.Template(common.get("persona", ""))
        self._now = string.Template(common.get("now", ""))
        self._answer_format = string.Template(common.get("answer_format", "$schema"))
        self._open = string.Template(common.get("untrusted_open", "<<<UNTRUSTED $label>>>"))
        self._close = string.Template(common.get("untrusted_close", "<<<END UNTRUSTED $label>>>"))
        templates: dict[str, PromptTemplate] = {}
        for kind, spec in data.get("kinds", {}).items():
            model_name = spec.get("answer")
            if model_name not in ANSWER_MODELS:
                raise ValueError(f"{path}: kind {kind!r} names unknown answer model {model_name!r}")
            max_tokens = spec.get("max_tokens")
            if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
                raise ValueError(
                    f"{path}: kind {kind!r} needs max_tokens, a positive integer fitted to its answer "
                    f"(got {max_tokens!r})"
                )
            templates[kind] = PromptTemplate(
                kind=kind,
                system=string.Template(spec["system"]),
                user=string.Template(spec["user"]),
                answer=ANSWER_MODELS[model_name],
                max_tokens=max_tokens,
                untrusted=tuple(spec.get("untrusted", ())),
            )
        self._templates = MappingProxyType(templates)
        self._schemas = MappingProxyType(
            {kind: MappingProxyType(t.answer.model_json_schema()) for kind, t in templates.items()}
        )
        # the answer-format paragraph with each kind's schema, rendered once
        self._answer_formats = MappingProxyType(
            {
                kind: self._answer_format.substitute(
                    schema=json.dumps(schema, separators=(",", ":"), default=dict)
                )
                for kind, schema in self._schemas.items()
            }
        )

    def kinds(self) -> tuple[str, ...]:
        """The known prompt kinds, sorted."""
        return tuple(sorted(self._templates))

    def template(self, kind: str) -> PromptTemplate:
        """The template of `kind`; raises `UnknownPromptKind` listing the valid kinds."""
        try:
            return self._templates[kind]
        except KeyError:
            raise UnknownPromptKind(kind, self.kinds()) from None

    def answer_model(self, kind: str) -> type[Answer]:
        """The pydantic model the answer to `kind` is parsed into."""
        return self.template(kind).answer

    def max_tokens(self, kind: str) -> int:
        """The most tokens an answer to `kind` may take (`max_tokens` in the prompt data)."""
        return self.template(kind).max_tokens

    def schema(self, kind: str) -> Mapping[str, Any]:
        """The JSON schema of `kind`'s answer model (read-only)."""
        self.template(kind)
        return self._schemas[kind]

    def render(self, kind: str, context: Mapping[str, Any]) -> tuple[Message, ...]:
        """The system and user messages of `kind` filled from `context`."""
        template = self.template(kind)
        fields = _Fields(context)
        for key in template.untrusted:
            label = key.upper()
            raw = str(context.get(key) or "")
            cleaned = raw.replace(_MARKER, "< < <").replace(">>>", "> > >")
            fields[key] = "\n".join(
                (self._open.substitute(label=label), cleaned, self._close.substitute(label=label))
            )
        fields["persona"] = self._persona.substitute(fields)
        system = template.system.substitute(fields) + "\n\n" + self._answer_formats[kind]
        user = template.user.substitute(fields)
        now = self._now.substitute(fields)
        return (Message("system", system), Message("user", f"{user}\n\n{now}" if now else user))


@functools.cache
def default_book() -> PromptBook:
    """The packaged prompt book, loaded once (it is read-only)."""
    return PromptBook()


def render(kind: str, context: Mapping[str, Any]) -> tuple[Message, ...]:
    """Render `kind` from `context` with the packaged prompt book."""
    return default_book().render(kind, context)


__all__ = [
    "PromptBook",
    "PromptTemplate",
    "UnknownPromptKind",
    "default_book",
    "places_lines",
    "places_text",
    "render",
    "to_text",
]
