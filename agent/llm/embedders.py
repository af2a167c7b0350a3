"""Embedders: an offline feature-hashing one, and the OpenAI embeddings API.

Both return L2-normalised float32 rows, shape `(len(texts), dim)`. An empty text (no words) is a
zero row: it is similar to nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
import openai
from openai import AsyncOpenAI

from agent.interfaces import LLMError
from agent.llm.openai_client import make_client, translate_error
from config.settings import LLMProfile

_WORD = re.compile(r"\w+", re.UNICODE)


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0).astype(np.float32, copy=False)


class HashingEmbedder:
    """A deterministic bag-of-words embedder that needs no model: words and word bigrams are
    feature-hashed (blake2b, stable across processes) into `dim` signed buckets.

    Texts sharing words get a higher cosine than unrelated ones. It knows no synonyms.
    """

    def __init__(self, dim: int = 256, *, bigram_weight: float = 0.5) -> None:
        if dim < 2:
            raise ValueError("dim must be at least 2")
        self.dim = dim
        self.bigram_weight = bigram_weight

    def _bucket(self, feature: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
        return (h >> 1) % self.dim, (1.0 if h & 1 else -1.0)

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings, computed in the caller's thread (it is cheap)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for w in words:
                i, sign = self._bucket(w)
                out[row, i] += sign
            for a, b in zip(words, words[1:], strict=False):
                i, sign = self._bucket(f"{a} {b}")
                out[row, i] += sign * self.bigram_weight
        return _normalise(out)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings of `texts`, shape `(len(texts), dim)`."""
        return self.embed_sync(texts)


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint.

    `dim` is the model's vector size; when not given it is 0 until the first call sets it. Empty
    texts are not sent (the API refuses them) and get zero rows.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        dim: int | None = None,
        batch_size: int = 256,
        client: AsyncOpenAI | None = None,
        transport: Literal["streams", "httpx"] = "streams",
    ) -> None:
        self.model = model
        self.dim = dim or 0
        self.batch_size = batch_size
        self._client = client or make_client(
            base_url=base_url,
            api_key=api_key,
            timeout_s=timeout_s,
            stream_transport=None if transport == "streams" else False,
        )

    @classmethod
    def from_profile(cls, profile: LLMProfile) -> OpenAIEmbedder:
        """The embedder of a profile with `embedding_model` set."""
        if not profile.embedding_model:
            raise ValueError("the profile has no embedding_model")
        return cls(
            profile.embedding_model,
            base_url=profile.base_url,
            api_key=profile.api_key,
            timeout_s=profile.timeout_s,
            transport=profile.transport,
        )

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings of `texts`, shape `(len(texts), dim)`."""
        todo = [i for i, t in enumerate(texts) if t.strip()]
        vectors: list[list[float]] = []
        for start in range(0, len(todo), self.batch_size):
            batch = [texts[i] for i in todo[start : start + self.batch_size]]
            try:
                response = await self._client.embeddings.create(model=self.model, input=batch)
            except openai.OpenAIError as exc:
                raise translate_error(exc, self.model) from exc
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(batch):
                raise LLMError(f"{self.model}: asked {len(batch)} embeddings, got {len(data)}")
            vectors.extend(d.embedding for d in data)
        if vectors:
            got = len(vectors[0])
            if self.dim and got != self.dim:
                raise LLMError(f"{self.model}: embeddings have {got} dimensions, expected {self.dim}")
            self.dim = got
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if vectors:
            out[todo] = _normalise(np.asarray(vectors, dtype=np.float64))
        return out

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()
