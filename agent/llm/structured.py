"""Structured outputs: the answer's JSON schema in the `response_format` a server takes.

Servers take a schema in different ways, so an LLM profile's `structured_output` names one:

- "json_schema": `{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`
  (OpenAI, vLLM, Ollama, llama.cpp's own `llama-server`);
- "json_object_schema": `{"type": "json_object", "schema": ...}` (llama-cpp-python's server, which
  refuses the "json_schema" type and turns this schema into a grammar);
- "json_object": plain JSON mode, no schema (the schema is still in the prompt);
- "off": no `response_format` at all;
- "auto" (the default): "json_schema" first; a server that refuses a format with HTTP 400 or
  422 gets the next one down ("json_object_schema", then "json_object") for the rest of the run.

The schema sent is `wire_schema(...)` of the answer model's own: what strict mode requires (every
object closed with `additionalProperties: false`, every property required, no `default`), so an
answer that follows it always parses into the model. Strict mode also takes only a subset of JSON
Schema's keywords; the others (string lengths, ...) are dropped for "json_schema" and kept for the
grammar-building servers, where a `maxLength` bounds what a small model can ramble.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

StructuredOutput = Literal["auto", "json_schema", "json_object_schema", "json_object", "off"]
STRUCTURED_OUTPUTS: tuple[str, ...] = ("auto", "json_schema", "json_object_schema", "json_object", "off")
# what "auto" tries, best first
FALLBACK_ORDER: tuple[str, ...] = ("json_schema", "json_object_schema", "json_object")

# Keywords OpenAI's strict mode refuses with HTTP 400 ("'default' is not permitted", ...).
_NOT_STRICT = frozenset(
    {
        "default",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "unevaluatedProperties",
        "propertyNames",
        "unevaluatedItems",
        "contains",
        "minContains",
        "maxContains",
        "uniqueItems",
    }
)
_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def wire_schema(schema: Mapping[str, Any], *, strict_subset: bool) -> dict[str, Any]:
    """`schema` as sent to a server: every object closed and all its properties required, no
    `default`; with `strict_subset`, also without the keywords OpenAI's strict mode refuses.

    A property that was optional stays of its own type (a nullable one stays nullable), so an
    answer that follows this schema also satisfies the original one."""
    return _walk(schema, strict_subset)


def _walk(node: Any, strict_subset: bool) -> Any:
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "default" or (strict_subset and key in _NOT_STRICT):
                continue
            if key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
                out[key] = {name: _walk(sub, strict_subset) for name, sub in value.items()}
            else:
                out[key] = _walk(value, strict_subset)
        if out.get("type") == "object" or "properties" in out:
            props = out.get("properties") or {}
            out["properties"] = props
            out["required"] = list(props)
            out["additionalProperties"] = False
        return out
    if isinstance(node, list | tuple):
        return [_walk(v, strict_subset) for v in node]
    return node


def schema_name(schema: Mapping[str, Any], fallback: str) -> str:
    """The `json_schema.name` for a schema: its title (or `fallback`), as OpenAI allows names
    (letters, digits, `_` and `-`, at most 64)."""
    raw = schema.get("title") if isinstance(schema.get("title"), str) else None
    name = _NAME.sub("_", raw or fallback or "answer")[:64]
    return name or "answer"


def response_format(mode: str, schema: Mapping[str, Any], *, name: str) -> dict[str, Any] | None:
    """The `response_format` of a request whose answer follows `schema`, in `mode` (not "auto":
    resolve that first); None for "off"."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {
                "name": schema_name(schema, name),
                "schema": wire_schema(schema, strict_subset=True),
                "strict": True,
            },
        }
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": wire_schema(schema, strict_subset=False)}
    if mode == "json_object":
        return {"type": "json_object"}
    if mode == "off":
        return None
    raise ValueError(f"unknown structured_output {mode!r}; valid: {', '.join(STRUCTURED_OUTPUTS)}")


def next_mode(mode: str) -> str | None:
    """The format "auto" tries after the server refused `mode`, or None when none is left."""
    try:
        i = FALLBACK_ORDER.index(mode)
    except ValueError:
        return None
    return FALLBACK_ORDER[i + 1] if i + 1 < len(FALLBACK_ORDER) else None


__all__ = [
    "FALLBACK_ORDER",
    "STRUCTURED_OUTPUTS",
    "StructuredOutput",
    "next_mode",
    "response_format",
    "schema_name",
    "wire_schema",
]
