"""The compact form of the `tick` push, for clients that subscribe with `compact: true` (the
browser). The full form (`tick`, one object per changed agent, every event with its text) stays
what the drivers and older clients get.

A `tick_compact` push carries the same changes as the `tick` push it is made from:

    {"tick": 12, "clock": "Day 1, 08:12",
     "strings": [base, "s0", "s1", ...],    # new entries of the string table, from index `base`
     "xy": [i, x, y, i, x, y, ...],         # moved agents (i: the agent id's index; an axis that
                                            # did not change is null)
     "text": {"state": [i, s, ...], "label": [...], "target": [...], "purpose": [...]},
     "num": {"cash": [i, v, ...]},          # other changed fields, by kind of value
     "other": [[i, {field: value}], ...],   # anything else that changed (rare)
     "events": [[kind, agent, other, text, conversation?], ...],  # agent/other: string indices,
                                            # null when none; a chat line adds its conversation id
     "events_cut": n,                       # chat lines whose text was left out (see below)
     "summary": {...}}

Strings are sent once: every agent id and every string value of an agent field (a state, a
label, a building's id, a purpose) goes into a table shared by all compact subscribers, and a
push sends only the entries it adds. A subscriber gets the table so far in `subscribe`'s answer.
In `text` arrays a number is an index into the table and a string is a literal: once the table
holds `MAX_STRINGS` entries, new strings are sent as they are. Event texts are always literal.

A tick in which hundreds of agents talk carries hundreds of chat lines; a viewer shows a few as
bubbles and a short feed. The compact form keeps every event's kind and agents, and the text of
the first `CHAT_TEXTS` chat lines (and of every other event); the rest have `null` text and are
counted in `events_cut`. The full lines are in the `tick` push, `get_agent` and the run report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_STRINGS = 65_536  # the table stops growing here; later strings go literal
CHAT_TEXTS = 40  # chat lines per compact push that keep their text


class StringTable:
    """Strings numbered in the order they were first sent; append-only."""

    def __init__(self, limit: int = MAX_STRINGS) -> None:
        self.limit = limit
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        self.sent = 0  # entries already carried by a push

    def ref(self, s: str) -> int | str:
        """The index of `s`, adding it when new; `s` itself once the table is full."""
        i = self.index.get(s)
        if i is not None:
            return i
        if len(self.items) >= self.limit:
            return s
        i = len(self.items)
        self.items.append(s)
        self.index[s] = i
        return i

    def fresh(self) -> list[Any]:
        """`[base, new strings...]`: the entries added since the last call."""
        out: list[Any] = [self.sent, *self.items[self.sent :]]
        self.sent = len(self.items)
        return out

    def snapshot(self) -> list[str]:
        """Every entry a new subscriber must know: those already sent in pushes."""
        return self.items[: self.sent]


def compact_tick(data: dict[str, Any], table: StringTable) -> dict[str, Any]:
    """The `tick_compact` push made from a `tick` push's data (see the module docstring)."""
    xy: list[int] = []
    text: dict[str, list[Any]] = {}
    num: dict[str, list[Any]] = {}
    other: list[list[Any]] = []
    for agent in data.get("agents", ()):
        i = table.ref(agent["id"])
        if "x" in agent or "y" in agent:
            xy.extend((i, agent.get("x"), agent.get("y")))  # type: ignore[arg-type]
        for key, value in agent.items():
            if key in ("id", "x", "y"):
                continue
            if value is None or isinstance(value, str):
                text.setdefault(key, []).extend((i, None if value is None else table.ref(value)))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                num.setdefault(key, []).extend((i, value))
            else:
                other.append([i, {key: value}])
    events, cut = _events(data.get("events", ()), table)
    out: dict[str, Any] = {"tick": data["tick"], "clock": data["clock"], "strings": table.fresh()}
    out.update(xy=xy, text=text, num=num)
    if other:
        out["other"] = other
    out.update(events=events, events_cut=cut)
    if "summary" in data:
        out["summary"] = data["summary"]
    return out


def _events(events: Iterable[dict[str, Any]], table: StringTable) -> tuple[list[list[Any]], int]:
    out: list[list[Any]] = []
    chats = cut = 0
    for ev in events:
        txt = ev.get("text")
        if ev.get("kind") == "chat":
            chats += 1
            if chats > CHAT_TEXTS:
                txt = None
                cut += 1
        row = [
            table.ref(ev.get("kind") or ""),
            None if ev.get("agent_id") is None else table.ref(ev["agent_id"]),
            None if ev.get("other_id") is None else table.ref(ev["other_id"]),
            txt,
        ]
        if ev.get("conversation_id"):  # literal: each id serves a handful of lines
            row.append(ev["conversation_id"])
        out.append(row)
    return out, cut
