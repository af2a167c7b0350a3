"""The HTTP library the installed `openai` SDK is built on: `httpx2` in current releases, `httpx`
before. Both can be installed at once (an upgrade leaves the old one behind), so the SDK's own
client class says which one it uses; our transport must build that library's requests and
responses, or the SDK's client rejects them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import openai

if TYPE_CHECKING:
    import httpx2 as httpx
else:
    httpx = importlib.import_module(openai.DefaultAsyncHttpxClient.__mro__[1].__module__.partition(".")[0])

__all__ = ["httpx"]
