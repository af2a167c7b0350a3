"""Model clients and wrappers behind the `LanguageModel` and `Embedder` protocols.

- `openai_client`: `OpenAIModel`, any OpenAI-compatible server through the official SDK;
- `structured`: the answer's JSON schema as the `response_format` a server takes;
- `local`: the offline real model (SmolLM2 on llama-cpp-python's server, the `local` extra);
- `scripted`: `ScriptedModel`, the offline deterministic model;
- `wrappers`: retry, limiter, record/replay cache and metering, each a `LanguageModel` itself;
- `embedders`: `HashingEmbedder` (offline) and `OpenAIEmbedder`;
- `factory`: `build_model`, `build_embedder` and the `ModelPool` that owns them.
"""

from agent.llm.embedders import HashingEmbedder, OpenAIEmbedder
from agent.llm.factory import ModelPool, build_embedder, build_model
from agent.llm.openai_client import OpenAIModel
from agent.llm.wrappers import (
    CachingModel,
    CallRecord,
    LimitedModel,
    Limiter,
    MeteredModel,
    MeterTotals,
    RetryingModel,
)

__all__ = [
    "CachingModel",
    "CallRecord",
    "HashingEmbedder",
    "LimitedModel",
    "Limiter",
    "MeterTotals",
    "MeteredModel",
    "ModelPool",
    "OpenAIEmbedder",
    "OpenAIModel",
    "RetryingModel",
    "build_embedder",
    "build_model",
]
