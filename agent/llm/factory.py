"""Builds models and embedders from settings profiles, and the pool that owns them.

A model is composed as, outermost first:

    MeteredModel -> CachingModel -> RetryingModel -> LimitedModel (the server's slots)
        -> LimitedModel (the shared limiter) -> base

so a cache hit costs neither a limiter slot nor a rate token, every HTTP attempt (retries
included) is counted by the limiter, a backoff sleep holds no concurrency slot, and the meter sees
what the agent saw: one record per call, cached or not. `RetryingModel` wraps network models only.
A profile that sets `concurrency` gets the first `LimitedModel`: one `Limiter` per server
(`base_url`), shared by the profiles that name it, taken before a slot of the shared limiter (a
call queued for a busy server holds none); a call given up on (timed out) holds that server's
next calls for the profile's `timeout_s`, as the server may still be working on it.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable

from agent.interfaces import Embedder, LanguageModel
from agent.llm.embedders import HashingEmbedder, OpenAIEmbedder
from agent.llm.openai_client import OpenAIModel
from agent.llm.wrappers import CachingModel, CallRecord, LimitedModel, Limiter, MeteredModel, RetryingModel
from config.settings import LLMLimits, LLMProfile

log = logging.getLogger(__name__)

Sink = Callable[[CallRecord], None]
ScriptedFactory = Callable[[], LanguageModel]


def build_model(
    profile: LLMProfile,
    *,
    limiter: Limiter,
    limits: LLMLimits,
    sink: Sink | None,
    scripted_factory: ScriptedFactory | None,
    rng: random.Random,
    server_slots: Limiter | None = None,
) -> LanguageModel:
    """The wrapped model a profile describes (see the module docstring for the layers);
    `server_slots` is the limiter of the profile's server, when it sets `concurrency`."""
    model: LanguageModel
    if profile.provider == "openai":
        connections = min(
            limiter.concurrency, server_slots.concurrency if server_slots else limiter.concurrency
        )
        model = LimitedModel(OpenAIModel.from_profile(profile, connections=connections), limiter)
        if server_slots is not None:
            model = LimitedModel(model, server_slots, hold_on_timeout_s=profile.timeout_s)
        model = RetryingModel(model, max_retries=profile.max_retries, rng=rng)
    elif profile.provider == "scripted":
        if scripted_factory is None:
            raise ValueError("the 'scripted' provider needs a scripted_factory")
        model = LimitedModel(scripted_factory(), limiter)
    else:  # unreachable while LLMProfile.provider is a Literal; kept for a clear message
        raise ValueError(f"unknown LLM provider {profile.provider!r}; valid: openai, scripted")
    if limits.cache_mode != "off" and limits.cache_dir:
        model = CachingModel(model, limits.cache_dir, limits.cache_mode)
    return MeteredModel(model, sink, prices=(profile.prompt_usd_per_mtok, profile.completion_usd_per_mtok))


def build_embedder(profile: LLMProfile) -> Embedder:
    """The OpenAI embedder when the profile names an embedding model, else the hashing one."""
    if profile.provider == "openai" and profile.embedding_model:
        return OpenAIEmbedder.from_profile(profile)
    return HashingEmbedder()


class ModelPool:
    """Builds each profile's model and embedder once and hands the same instances to every agent.

    `resolve` maps an agent's model name to its profile (e.g. `Settings.profile`; it raises
    `KeyError` for an unknown name). All models share one `Limiter`. The pool owns what it built:
    `aclose()` closes every model and embedder once.
    """

    def __init__(
        self,
        resolve: Callable[[str | None], LLMProfile],
        *,
        limits: LLMLimits,
        sink: Sink | None,
        scripted_factory: ScriptedFactory | None,
        rng: random.Random,
        limiter: Limiter | None = None,
    ) -> None:
        self._resolve = resolve
        self.limits = limits
        self.limiter = limiter or Limiter.from_limits(limits)
        self._sink = sink
        self._scripted_factory = scripted_factory
        self._rng = rng
        self._models: dict[str, LanguageModel] = {}
        self._embedders: dict[str, Embedder] = {}
        self._servers: dict[str, Limiter] = {}  # base_url -> its slots, for profiles with `concurrency`

    def server_slots(self, profile: LLMProfile) -> Limiter | None:
        """The limiter of a profile's server (shared by every profile naming that base_url), or
        None when the profile sets no `concurrency`."""
        if profile.provider != "openai" or profile.concurrency is None:
            return None
        key = profile.base_url or ""
        slots = self._servers.get(key)
        if slots is None:
            slots = self._servers[key] = Limiter(profile.concurrency)
        return slots

    def model(self, name: str | None = None) -> LanguageModel:
        """The shared model of the profile `name` resolves to."""
        profile = self._resolve(name)
        key = profile.model_dump_json()
        if key not in self._models:
            self._models[key] = build_model(
                profile,
                limiter=self.limiter,
                limits=self.limits,
                sink=self._sink,
                scripted_factory=self._scripted_factory,
                rng=self._rng,
                server_slots=self.server_slots(profile),
            )
            log.info("LLM profile %s: %s model %s", name or "default", profile.provider, profile.model)
        return self._models[key]

    def embedder(self, name: str | None = None) -> Embedder:
        """The shared embedder of the profile `name` resolves to."""
        profile = self._resolve(name)
        key = profile.model_dump_json()
        if key not in self._embedders:
            self._embedders[key] = build_embedder(profile)
        return self._embedders[key]

    async def aclose(self) -> None:
        """Close every model and embedder the pool built."""
        models, self._models = list(self._models.values()), {}
        embedders, self._embedders = list(self._embedders.values()), {}
        async with contextlib.AsyncExitStack() as stack:  # closes all, even if one fails
            for model in models:
                stack.push_async_callback(model.aclose)
            for embedder in embedders:
                close = getattr(embedder, "aclose", None)
                if close is not None:
                    stack.push_async_callback(close)
