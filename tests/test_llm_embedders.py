"""The offline hashing embedder: deterministic, normalised, and similar texts score higher."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.llm.embedders import HashingEmbedder
from agent.llm.factory import build_embedder
from config.settings import LLMProfile

ROOT = Path(__file__).resolve().parent.parent


async def test_shape_dtype_and_norm() -> None:
    emb = HashingEmbedder(dim=128)
    vecs = await emb.embed(["Alice bakes bread at the bakery", "", "!!!"])
    assert vecs.shape == (3, 128) and vecs.dtype == np.float32
    assert np.linalg.norm(vecs[0]) == pytest.approx(1.0, abs=1e-6)
    assert not vecs[1].any() and not vecs[2].any()  # no words: a zero row


async def test_similar_texts_score_higher_than_unrelated() -> None:
    emb = HashingEmbedder()
    q, near, far = await emb.embed(
        [
            "where can I buy fresh bread",
            "the bakery sells fresh bread every morning",
            "the mayor opened a new hospital downtown",
        ]
    )
    assert float(q @ near) > float(q @ far)
    same_words, reordered = await emb.embed(["bread and coffee", "coffee and bread"])
    assert 0.5 < float(same_words @ reordered) < 1.0  # same words, different bigrams


async def test_case_does_not_matter_and_instances_agree() -> None:
    a = await HashingEmbedder(dim=64).embed(["Hello Town"])
    b = await HashingEmbedder(dim=64).embed(["hello town"])
    assert np.array_equal(a, b)


def test_stable_across_processes() -> None:
    """The hash must not be Python's `hash()`, which is salted per process."""
    code = (
        "from agent.llm.embedders import HashingEmbedder; "
        "print(HashingEmbedder(dim=32).embed_sync(['the quick brown fox'])[0].tobytes().hex())"
    )
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        outs.add(run.stdout.strip())
    here = HashingEmbedder(dim=32).embed_sync(["the quick brown fox"])[0].tobytes().hex()
    assert outs == {here}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=5))
def test_rows_are_unit_or_zero(texts: list[str]) -> None:
    vecs = HashingEmbedder(dim=48).embed_sync(texts)
    assert vecs.shape == (len(texts), 48)
    for v in vecs:
        n = float(np.linalg.norm(v))
        assert n == pytest.approx(1.0, abs=1e-5) or n == 0.0


def test_build_embedder_picks_by_profile() -> None:
    assert isinstance(build_embedder(LLMProfile()), HashingEmbedder)
    no_embedding_model = LLMProfile(provider="openai", model="m", base_url="http://127.0.0.1:9/v1")
    assert isinstance(build_embedder(no_embedding_model), HashingEmbedder)
