"""Conversations: first-class talks between two agents, or an agent and a player.

A conversation has an id, the participant who started it, the others, turns taken one after
another (`next_speaker`), a natural end (a goodbye, nothing more to say, the turn limit, a
participant gone or asleep) and a transcript. While it is open each agent in it stops walking
and speaks only on its turn (one model call a turn); the action it was busy with runs on. When
it ends, each agent participant gets a summary memory made by rule (no model call), with the
news it heard, and knows the others from then on. Open conversations are stored with the tick
(the `conversations` table) and restored on a restart.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from agent.interfaces import MemoryRecord
from server.errors import ActionRefused

if TYPE_CHECKING:
    from agent.state import AgentRecord
    from server.world.world import World

log = logging.getLogger(__name__)

MAX_TURNS = 10  # a conversation ends after this many lines
PLAYER_IDLE_TICKS = 30  # a player's conversation ends after this many ticks without a line
MAX_NEWS = 5  # pieces of news an agent keeps to pass on
_SUMMARY_MAX = 600


@dataclass(slots=True)
class Turn:
    """One line of a conversation."""

    speaker: str
    text: str
    tick: int
    news: str | None = None  # a piece of news the line passes on


@dataclass(slots=True)
class Conversation:
    """A conversation and its transcript. Participants are agent ids or "player:<name>"."""

    id: str
    initiator: str
    participants: list[str]
    started_tick: int
    place: str | None = None  # building id where it happens, if any
    turns: list[Turn] = field(default_factory=list)
    next_speaker: str | None = None
    ended_tick: int | None = None
    end_reason: str = ""
    max_turns: int = MAX_TURNS

    @property
    def open(self) -> bool:
        return self.ended_tick is None

    def partner_of(self, who: str) -> str:
        """The other participant (conversations here have two)."""
        return next((p for p in self.participants if p != who), who)

    def row(self) -> dict[str, Any]:
        """The conversations-table row."""
        data = asdict(self)
        for k in ("id", "started_tick", "ended_tick"):
            data.pop(k)
        return {
            "id": self.id,
            "started_tick": self.started_tick,
            "ended_tick": self.ended_tick,
            "data": orjson.dumps(data).decode(),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Conversation:
        data = orjson.loads(row["data"])
        data["turns"] = [Turn(**t) for t in data.get("turns", [])]
        return cls(id=row["id"], started_tick=row["started_tick"], ended_tick=row["ended_tick"], **data)

    def public(self) -> dict[str, Any]:
        """What a client sees: the whole thread."""
        return {
            "id": self.id,
            "initiator": self.initiator,
            "participants": list(self.participants),
            "started_tick": self.started_tick,
            "ended_tick": self.ended_tick,
            "end_reason": self.end_reason,
            "turns": [{"speaker": t.speaker, "text": t.text, "tick": t.tick} for t in self.turns],
        }


def _new_id(world: World, who: str) -> str:
    """A conversation id never used in this town: the tick, who started it and a sequence number
    kept in the town's meta (`talks`), so two started in one tick differ."""
    n = int(world.dirty.meta.get("talks", world.talks)) + 1
    world.talks = n
    world.dirty.meta["talks"] = n
    return f"t{world.clock.tick}-{who}-{n}"


def _touch(world: World, c: Conversation) -> None:
    world.dirty.conversations[c.id] = c.row()


def can_talk(world: World, a: AgentRecord, other: AgentRecord) -> str | None:
    """Why `a` cannot start a conversation with `other`, or None if it can."""
    if other.id == a.id:
        return f"{a.name} cannot talk with itself"
    d = abs(other.x - a.x) + abs(other.y - a.y)
    if d > world.sight:
        return f"{other.name} is {d} tiles away, out of reach (sight {world.sight})"
    if other.conversation is not None:
        return f"{other.name} is already in a conversation"
    if other.asleep:
        return f"{other.name} is asleep"
    if a.conversation is not None:
        return f"{a.name} is already in a conversation"
    return None


def start(world: World, a: AgentRecord, other: AgentRecord, text: str, news: str | None) -> dict[str, Any]:
    """`a` opens a conversation with `other` with its first line; `other` speaks next."""
    why = can_talk(world, a, other)
    if why is not None:
        raise ActionRefused(why)
    here = world.building_at(a.x, a.y)
    c = Conversation(
        id=_new_id(world, a.id),
        initiator=a.id,
        participants=[a.id, other.id],
        started_tick=world.clock.tick,
        place=here.id if here is not None else None,
    )
    world.conversations[c.id] = c
    for x in (a, other):
        x.conversation = c.id
        x.label = f"talking with {(other if x is a else a).name}"
        world.dirty.agents.add(x.id)
    return say(world, a, text, end=False, news=news)


def say(world: World, a: AgentRecord, text: str, *, end: bool, news: str | None) -> dict[str, Any]:
    """`a` says its line in its open conversation; the conversation ends with a goodbye (`end`),
    at the turn limit, or when the partner has gone."""
    c = world.conversations.get(a.conversation or "")
    if c is None:
        raise ActionRefused(f"{a.name} is not in a conversation")
    if c.next_speaker not in (None, a.id):
        raise ActionRefused(f"it is not {a.name}'s turn to speak")
    line = " ".join(text.split())[:400] or "Hm."
    c.turns.append(Turn(a.id, line, world.clock.tick, news[:300] if news else None))
    partner = c.partner_of(a.id)
    c.next_speaker = partner
    other = world.agents.get(partner)
    if other is not None and news:
        _learn(other, news)
        told = a.told.setdefault(other.id, [])
        if news not in told:
            told.append(news)
    ev = world.event("chat", line, a.id, partner if other is not None else None, conversation=c.id)
    if end:
        close(world, c, "goodbye")
    elif len(c.turns) >= c.max_turns:
        close(world, c, "turn limit")
    elif other is None and not partner.startswith("player:"):
        close(world, c, "partner gone")
    else:
        _touch(world, c)
    return ev


def _learn(a: AgentRecord, news: str) -> None:
    if news not in a.news:
        a.news.append(news)
        del a.news[:-MAX_NEWS]


def close(world: World, c: Conversation, reason: str) -> None:
    """End `c`: each agent in it gets a summary memory, knows the others, and goes on with the
    action it was busy with."""
    if not c.open:
        return
    c.ended_tick, c.end_reason, c.next_speaker = world.clock.tick, reason, None
    world.conversations.pop(c.id, None)
    _touch(world, c)
    for pid in c.participants:
        a = world.agents.get(pid)
        if a is None:
            continue
        if a.conversation == c.id:
            a.conversation = None
            a.label = a.activity or "looking around"
        for other in c.participants:
            if other != pid:
                a.acquaintances[other] = world.clock.tick
        world.dirty.agents.add(a.id)
        if a.mem is not None and c.turns:
            text, important = summary(world, c, pid)
            record = MemoryRecord(
                pid, "conversation", text, world.clock.tick, importance=important, subject=None
            )
            a.mem.load([record])
            world.new_memories.append(
                MemoryRecord(pid, "conversation", text, world.clock.tick, importance=important)
            )
    log.debug("conversation %s ended (%s) after %d lines", c.id, reason, len(c.turns))


def display(world: World, who: str) -> str:
    """A participant's name: the agent's name, or the player's."""
    if who.startswith("player:"):
        return who[len("player:") :]
    a = world.agents.get(who)
    return a.name if a is not None else who


def summary(world: World, c: Conversation, me: str) -> tuple[str, float]:
    """The summary memory of `c` for participant `me` (made by rule, no model call), and its
    importance: what the others said, news first."""
    partner = display(world, c.partner_of(me))
    place = world.buildings.get(c.place or "")
    where = f" at {place.name}" if place is not None else ""
    heard = [t for t in c.turns if t.speaker != me]
    news = [t.news for t in heard if t.news]
    said = [t.text for t in heard if not t.news]
    parts = [f"I talked with {partner}{where} ({len(c.turns)} lines)."]
    parts += [f"{partner} told me the news: {n}" for n in news]
    if said:
        parts.append(f"{partner} said: " + " ".join(said[:3]))
    text = " ".join(parts)
    if len(text) > _SUMMARY_MAX:
        cut = text.rfind(" ", 0, _SUMMARY_MAX)
        text = text[: cut if cut > 0 else _SUMMARY_MAX].rstrip(",;:") + " ..."
    return text, 7.0 if news else 4.0


def end_stale(world: World) -> None:
    """End the conversations that cannot go on: a participant gone, or a player (or a player's
    avatar) silent for `PLAYER_IDLE_TICKS`."""
    now = world.clock.tick
    for c in list(world.conversations.values()):
        agents = [p for p in c.participants if not p.startswith("player:")]
        if any(p not in world.agents for p in agents):
            close(world, c, "partner gone")
        elif len(agents) < len(c.participants) or any(world.agents[p].avatar for p in agents):
            last = c.turns[-1].tick if c.turns else c.started_tick
            if now - last >= PLAYER_IDLE_TICKS:
                close(world, c, "player silent")


def restore(world: World, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """Open conversations from the database, and the id sequence, back on the world."""
    world.talks = int(meta.get("talks", 0))
    for row in rows:
        c = Conversation.from_row(row)
        world.conversations[c.id] = c


def player_line(world: World, player: str, a: AgentRecord, text: str) -> Conversation:
    """A player's line to `a`: continues their open conversation or starts one."""
    pid = f"player:{player}"
    c = next(
        (x for x in world.conversations.values() if pid in x.participants and a.id in x.participants),
        None,
    )
    if c is None:
        c = Conversation(
            id=_new_id(world, a.id),
            initiator=pid,
            participants=[pid, a.id],
            started_tick=world.clock.tick,
        )
        world.conversations[c.id] = c
    c.turns.append(Turn(pid, " ".join(text.split())[:1000], world.clock.tick))
    c.next_speaker = a.id
    _touch(world, c)
    return c


def agent_reply(world: World, c: Conversation, a: AgentRecord, text: str, *, end: bool) -> None:
    """`a`'s reply in a player's conversation `c`; ends it on a goodbye or at the turn limit."""
    c.turns.append(Turn(a.id, text, world.clock.tick))
    c.next_speaker = c.partner_of(a.id)
    if end or len(c.turns) >= c.max_turns:
        close(world, c, "goodbye" if end else "turn limit")
    else:
        _touch(world, c)
