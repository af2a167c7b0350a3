"""Wire envelopes. Every frame is one JSON object.

Request:  {"id": <str|int>, "command": <name>, "data": {...}}
Answer:   {"id": ..., "ok": true, "result": {...}}  or  {"id": ..., "ok": false, "error": {"code", "message"}}
Push:     {"type": <str>, "data": {...}}            (no id; state deltas, chat lines)
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """Base of every wire model: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class RequestFrame(Model):
    """The envelope of a client request."""

    id: str | int | None = None
    command: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


def encode(obj: Any) -> str:
    """Serialise a frame to JSON text."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def answer(req_id: Any, result: BaseModel | dict[str, Any]) -> dict[str, Any]:
    """A success answer echoing the request id."""
    body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return {"id": req_id, "ok": True, "result": body}


def error(req_id: Any, code: str, message: str) -> dict[str, Any]:
    """An error answer echoing the request id (None when the frame had none)."""
    return {"id": req_id, "ok": False, "error": {"code": code, "message": message}}


def push(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A server-initiated frame."""
    return {"type": kind, "data": data}
