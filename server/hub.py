"""Broadcast of pushes to subscribed sessions. A frame is encoded once per form (a `tick` push has
a compact form for sessions that asked for it, see `server.push`); a slow client is dropped,
never waited for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server.protocol import encode, push
from server.push import StringTable, compact_tick
from server.session import Session

_MISSING = object()  # no previous value: always different


class Hub:
    """The set of subscribed sessions."""

    def __init__(self) -> None:
        self.sessions: set[Session] = set()
        self._sent: dict[str, dict[str, Any]] = {}  # id -> fields as the last `changes` call saw them
        self.strings = StringTable()  # the compact pushes' string table, shared by their subscribers

    def changes(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each item (a dict with an `id`) cut down to `id` plus the fields that differ from the
        last call's value for that id; items with no change are left out. Call it every tick,
        subscribers or not, so that a client that loaded the town and then applies these deltas
        stays exact."""
        out = []
        sent = self._sent
        for item in items:
            old = sent.get(item["id"])
            sent[item["id"]] = item
            if old is None:
                out.append(item)
                continue
            diff = {k: v for k, v in item.items() if k == "id" or old.get(k, _MISSING) != v}
            if len(diff) > 1:
                out.append(diff)
        return out

    def forget(self, ids: Iterable[str] | None = None) -> None:
        """Drop what `changes` remembers of these ids (agents that left the town), or of all."""
        if ids is None:
            self._sent.clear()
            return
        for i in ids:
            self._sent.pop(i, None)

    def add(self, s: Session) -> None:
        self.sessions.add(s)

    def remove(self, s: Session) -> None:
        self.sessions.discard(s)

    def publish(self, kind: str, data: dict[str, Any]) -> int:
        """Queue a push to every subscriber; returns how many got it."""
        if not self.sessions:
            return 0
        full = compact = None
        sent = 0
        for s in list(self.sessions):
            if s.compact and kind == "tick":
                if compact is None:
                    compact = encode(push("tick_compact", compact_tick(data, self.strings)))
                text = compact
            else:
                if full is None:
                    full = encode(push(kind, data))
                text = full
            if s.offer(text):
                sent += 1
            else:
                self.sessions.discard(s)
        return sent
