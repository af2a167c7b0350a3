"""Memory plug-in "long_term": the AgentSims long-term memory.

It keeps one impression per person or building (rewritten by an `impression` call after every chat
or visit that names a subject), the experiences of finished plans (one `experience` call each) and
a bounded list of plain events. Retrieval returns the records whose subject or words match the
query and the agent's surroundings, then fills up with the most recent ones. No embeddings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from agent.interfaces import MemoryRecord, Mind, Perception, PlanDecision
from agent.prompts.context import persona_context, subject_name
from agent.prompts.schemas import ExperienceAnswer, ImpressionAnswer

log = logging.getLogger(__name__)

_IMPRESSION_KINDS = frozenset({"chat", "observation"})


def _terms(text: str) -> set[str]:
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return {w for w in cleaned.split() if len(w) > 2}


class LongTermMemory:
    """Impressions of people and buildings, experiences of plans, and recent events."""

    name: ClassVar[str] = "long_term"

    def __init__(self, *, max_events: int = 200) -> None:
        self.max_events = max_events
        self.impressions: dict[str, MemoryRecord] = {}  # subject -> latest impression
        self.experiences: list[MemoryRecord] = []
        self.events: list[MemoryRecord] = []  # the latest `max_events` other records
        self._order: list[MemoryRecord] = []  # every kept record, oldest first
        self._new: list[MemoryRecord] = []

    def _drop(self, record: MemoryRecord) -> None:
        for i, kept in enumerate(self._order):
            if kept is record:  # by identity: records hold numpy arrays, == would be ambiguous
                del self._order[i]
                return

    def _keep(self, record: MemoryRecord) -> None:
        if record.kind == "impression" and record.subject is not None:
            old = self.impressions.get(record.subject)
            if old is not None:
                self._drop(old)
            self.impressions[record.subject] = record
        elif record.kind == "experience":
            self.experiences.append(record)
        else:
            self.events.append(record)
            if len(self.events) > self.max_events:
                self._drop(self.events.pop(0))
        self._order.append(record)

    def _store(self, record: MemoryRecord) -> None:
        self._keep(record)
        self._new.append(record)

    async def observe(
        self, mind: Mind, p: Perception, kind: str, text: str, subject: str | None = None
    ) -> None:
        """Store an event; a chat or visit naming a subject also updates the impression of it."""
        self._store(MemoryRecord(agent_id=p.agent_id, kind=kind, text=text, tick=p.tick, subject=subject))
        if subject is None or kind not in _IMPRESSION_KINDS:
            return
        old = self.impressions.get(subject)
        ctx = persona_context(
            p,
            subject=subject,
            subject_name=subject_name(p, subject),
            previous=old.text if old is not None else None,
            text=text,
        )
        answer = await mind.ask("impression", ctx, ImpressionAnswer)
        if answer is None:
            return
        self._store(
            MemoryRecord(
                agent_id=p.agent_id,
                kind="impression",
                text=answer.impression,
                tick=p.tick,
                importance=5.0,
                subject=subject,
            )
        )

    async def on_plan_finished(self, mind: Mind, p: Perception, plan: PlanDecision, outcome: str) -> None:
        """Store the experience of a finished plan."""
        ctx = persona_context(
            p,
            building=plan.building_id,
            building_name=subject_name(p, plan.building_id),
            purpose=plan.purpose,
            outcome=outcome,
        )
        answer = await mind.ask("experience", ctx, ExperienceAnswer)
        if answer is not None:
            text = f"{answer.summary} ({'it went well' if answer.success else 'it went badly'})"
        else:
            text = f"I went to {plan.building_id} to {plan.purpose}: {outcome}"
        self._store(
            MemoryRecord(
                agent_id=p.agent_id,
                kind="experience",
                text=text,
                tick=p.tick,
                importance=5.0,
                subject=plan.building_id,
            )
        )

    async def retrieve(self, mind: Mind, p: Perception, query: str, k: int = 10) -> list[MemoryRecord]:
        """Records matching the query's words or a subject around the agent, then the most recent."""
        if k <= 0:
            return []
        wanted = _terms(query)
        around = (
            {a.id for a in p.nearby} | {p.building_id or ""} | {b.id for b in p.buildings if b.id in query}
        )
        scored: list[tuple[int, int, MemoryRecord]] = []
        for order, r in enumerate(self._order):
            score = len(wanted & _terms(r.text)) + (3 if r.subject is not None and r.subject in around else 0)
            if score > 0:
                scored.append((score, order, r))
        scored.sort(key=lambda t: (-t[0], -t[1]))
        chosen = [r for _, _, r in scored[:k]]
        taken = {id(r) for r in chosen}
        for r in reversed(self._order):
            if len(chosen) >= k:
                break
            if id(r) not in taken:
                chosen.append(r)
        return chosen

    def impression_of(self, subject: str) -> str | None:
        """The current impression of `subject`, if any."""
        record = self.impressions.get(subject)
        return None if record is None else record.text

    def load(self, records: Sequence[MemoryRecord]) -> None:
        """Add stored records, oldest first (a later impression replaces an earlier one)."""
        for r in records:
            self._keep(r)

    def drain_new(self) -> list[MemoryRecord]:
        """Records created since the last drain, for persistence."""
        new, self._new = self._new, []
        return new

    def recent(self, n: int) -> list[MemoryRecord]:
        """The last `n` records kept, oldest first."""
        return self._order[-n:] if n > 0 else []
