"""Probes: every k ticks, ask chosen agents a question through the interview path (nothing is
stored in the agents' memories) and score the answer with a named metric.

Metrics: `keywords` (the share of the keywords the answer holds), `choice` (which of a list of
options the answer names first; 1 when it is the `expected` one, or any one when none is
expected), `number` (the first number in the answer; 1 when it is in [min, max]) and `judge` (an
LLM profile rates the answer against a rubric, 1-10, scored (rating - 1) / 9). A run's probes
are kept in its own `meta` (key `probes`), so forks inherit them; each score is a row of
`probe_scores` (tick, probe, agent, answer, score, value, and the model calls it took), written
in a small transaction of its own after the tick's commit. The agents' tables are never written.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import Field

from agent.prompts.schemas import Importance
from agent.state import AgentRecord
from server.context import Services
from server.db import schema as t
from server.db.repository import Repository
from server.protocol import Model
from server.runs.interview import interview
from server.world.tasks import word_set

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class Keywords(Model):
    """Score: the share of `keywords` (each one or more words) found in the answer."""

    kind: Literal["keywords"]
    keywords: list[str] = Field(min_length=1, max_length=50)


class Choice(Model):
    """Value: the option of `choices` the answer names first. Score: 1 if it is `expected` (or,
    with no `expected`, if it names any), else 0."""

    kind: Literal["choice"]
    choices: list[str] = Field(min_length=2, max_length=50)
    expected: str | None = None


class NumberRange(Model):
    """Value: the first number in the answer. Score: 1 if it lies in [`min`, `max`], else 0."""

    kind: Literal["number"]
    min: float
    max: float


class Judge(Model):
    """Score: an LLM profile's rating of the answer against `rubric` (1-10), as (rating - 1) / 9."""

    kind: Literal["judge"]
    rubric: str = Field(min_length=1, max_length=2000)
    profile: str = "default"


Metric = Annotated[Keywords | Choice | NumberRange | Judge, Field(discriminator="kind")]


class Probe(Model):
    """A question asked every `every` ticks of the chosen `agents` (none: every agent)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")
    question: str = Field(min_length=1, max_length=1000)
    every: int = Field(default=10, ge=1)
    agents: list[str] = Field(default_factory=list, max_length=2000)
    metric: Metric


class ProbeScore(Model):
    """One probe answer and its score."""

    tick: int
    probe: str
    agent_id: str
    answer: str
    score: float
    value: str | None


def score(metric: Keywords | Choice | NumberRange, answer: str) -> tuple[float, str | None]:
    """The score of `answer` under a rule metric (not `judge`), and the value it read."""
    words = word_set(answer)
    if isinstance(metric, Keywords):
        found = [k for k in metric.keywords if word_set(k) and word_set(k) <= words]
        return len(found) / len(metric.keywords), ", ".join(found) or None
    if isinstance(metric, Choice):
        low = answer.lower()
        named = sorted((low.find(c.lower()), c) for c in metric.choices if c.lower() in low)
        chosen = named[0][1] if named else None
        ok = chosen is not None and (metric.expected is None or chosen.lower() == metric.expected.lower())
        return (1.0 if ok else 0.0), chosen
    m = _NUMBER.search(answer)
    if m is None:
        return 0.0, None
    n = float(m.group())
    return (1.0 if metric.min <= n <= metric.max else 0.0), m.group()


async def judge(
    services: Services, metric: Judge, a: AgentRecord, question: str, answer: str
) -> tuple[float, str | None]:
    """The judge profile's rating of `a`'s answer, scored 0..1 (0 when the judge fails). The
    judge's mind is built for a copy of `a` naming the judge's LLM profile (nothing of `a` changes)."""
    mind = services.models.mind(dataclasses.replace(a, llm=metric.profile))
    rated = await mind.ask(
        "probe_judge", {"question": question, "answer": answer, "rubric": metric.rubric}, Importance
    )
    if rated is None:
        return 0.0, None
    return (rated.score - 1) / 9, str(rated.score)


async def run_probes(services: Services, probes: list[Probe], tick: int) -> list[ProbeScore]:
    """Ask and score the probes due at `tick`; store the scores in the open run."""
    w = services.world
    due = [p for p in probes if tick % p.every == 0]
    out: list[ProbeScore] = []
    rows = []
    for p in due:
        for aid in p.agents or sorted(w.agents):
            a = w.agents.get(aid)
            if a is None:
                continue
            r = await interview(services, a, p.question)  # meters its own calls
            with services.models.metering() as meter:  # the judge's
                if isinstance(p.metric, Judge):
                    s, value = await judge(services, p.metric, a, p.question, r.answer)
                else:
                    s, value = score(p.metric, r.answer)
            calls = meter.calls
            out.append(
                ProbeScore(tick=tick, probe=p.name, agent_id=aid, answer=r.answer, score=s, value=value)
            )
            rows.append(
                {
                    "tick": tick,
                    "probe": p.name,
                    "agent_id": aid,
                    "answer": r.answer,
                    "score": s,
                    "value": value,
                    "calls": r.calls + len(calls),
                    "tokens": r.tokens + sum(c.prompt_tokens + c.completion_tokens for c in calls),
                    "cost_usd": r.cost_usd + sum(c.cost_usd for c in calls),
                }
            )
    if rows:
        async with w.lock, w.repo.engine.begin() as c:
            await c.execute(sa.insert(t.probe_scores), rows)
    return out


async def scores_of(repo: Repository) -> list[ProbeScore]:
    """Every stored probe score of a run, by tick."""
    async with repo.engine.connect() as c:
        rows = await c.execute(
            sa.select(
                t.probe_scores.c.tick,
                t.probe_scores.c.probe,
                t.probe_scores.c.agent_id,
                t.probe_scores.c.answer,
                t.probe_scores.c.score,
                t.probe_scores.c.value,
            ).order_by(t.probe_scores.c.id)
        )
        return [
            ProbeScore(tick=tk, probe=p, agent_id=a, answer=ans, score=float(s), value=v)
            for tk, p, a, ans, s, v in rows
        ]
