"""The compact tick push: a subscriber that asks for it can follow the town exactly, strings are
sent once, and the drivers' full `tick` push is unchanged beside it."""

from __future__ import annotations

from typing import Any

import orjson

from server.app import Running
from server.client import TownClient
from server.push import CHAT_TEXTS, StringTable, compact_tick

FIELDS = ("x", "y", "state", "label", "cash", "target", "purpose", "conversation")


class CompactReader:
    """What a client does with `tick_compact` pushes: a string table and the agents' fields."""

    def __init__(self, strings: list[str], town: dict[str, Any]) -> None:
        self.table: dict[int, str] = dict(enumerate(strings))
        self.agents = {a["id"]: {k: a[k] for k in FIELDS} for a in town["agents"]}
        self.events: list[list[Any]] = []
        self.seen_strings: list[str] = []

    def text(self, v: Any) -> Any:
        return self.table[v] if isinstance(v, int) else v

    def apply(self, d: dict[str, Any]) -> None:
        base, *new = d["strings"]
        for k, s in enumerate(new):
            self.table[base + k] = s
        self.seen_strings.extend(new)
        xy = d["xy"]
        for j in range(0, len(xy), 3):
            a = self.agents[self.table[xy[j]]]
            for axis, v in (("x", xy[j + 1]), ("y", xy[j + 2])):
                if v is not None:  # null: that axis did not change
                    a[axis] = v
        for kind in ("text", "num"):
            for field, flat in d[kind].items():
                for j in range(0, len(flat), 2):
                    v = flat[j + 1]
                    self.agents[self.table[flat[j]]][field] = self.text(v) if kind == "text" else v
        for i, fields in d.get("other", []):
            self.agents[self.table[i]].update(fields)
        self.events = [
            [
                self.text(k),
                None if a is None else self.table[a],
                None if o is None else self.table[o],
                t,
                *conv,
            ]
            for k, a, o, t, *conv in d["events"]
        ]


async def test_a_compact_subscriber_follows_the_town_exactly(town: Running, admin: TownClient) -> None:
    full = await TownClient.connect(town.ws_url)
    compact = await TownClient.connect(town.ws_url)
    try:
        assert (await full.call("subscribe")).get("strings") is None
        sub = await compact.call("subscribe", compact=True)
        reader = CompactReader(sub["strings"], await compact.call("get_town"))
        for n in range(1, 7):
            await admin.call("tick")
            f = (await full.next_push("tick"))["data"]
            c = (await compact.next_push("tick_compact"))["data"]
            assert f["tick"] == c["tick"] == n and f["clock"] == c["clock"]
            reader.apply(c)
            want = {
                a.id: {k: v for k, v in a.brief().items() if k != "id"}
                for a in town.services.world.agents.values()
            }
            assert reader.agents == want, f"tick {n}"
            assert [e[:3] for e in reader.events] == [
                [e["kind"], e["agent_id"], e["other_id"]] for e in f["events"]
            ]
            assert all(e[3] in (None, g["text"]) for e, g in zip(reader.events, f["events"], strict=True))
            # a chat line names its conversation in both forms
            assert [e[4] if len(e) > 4 else None for e in reader.events] == [
                e["conversation_id"] for e in f["events"]
            ]
            assert len(orjson.dumps(c)) < len(orjson.dumps(f)) or not f["agents"]
        # A string is sent once: no push repeats one the table already holds.
        assert len(reader.seen_strings) == len(set(reader.seen_strings))
        assert set(town.services.world.agents) <= set(reader.table.values())

        # A late subscriber gets the table so far and decodes the next push at once.
        late = await TownClient.connect(town.ws_url)
        try:
            sub2 = await late.call("subscribe", compact=True)
            late_reader = CompactReader(sub2["strings"], await late.call("get_town"))
            await admin.call("tick")
            late_reader.apply((await late.next_push("tick_compact"))["data"])
            want = {
                a.id: {k: v for k, v in a.brief().items() if k != "id"}
                for a in town.services.world.agents.values()
            }
            assert late_reader.agents == want
        finally:
            late.close()
    finally:
        full.close()
        compact.close()


def test_compact_form_of_a_crowded_tick() -> None:
    """Long chat-heavy ticks keep every event's who and kind but only CHAT_TEXTS texts; a full
    string table sends new strings literally."""
    table = StringTable(limit=5)
    data = {
        "tick": 3,
        "clock": "Day 1, 08:00",
        "agents": [
            {"id": "a", "x": 1, "y": 2, "label": "walking", "cash": 7, "target": None},
            {"id": "b", "y": 4, "tags": ["x"]},
            {"id": "c", "label": "chatting with a fairly long name"},
        ],
        "events": [
            {"kind": "chat", "agent_id": "a", "other_id": "b", "text": f"hi {i}"}
            for i in range(CHAT_TEXTS + 5)
        ]
        + [{"kind": "use", "agent_id": "c", "other_id": None, "text": "c used the oven"}],
    }
    d = compact_tick(data, table)
    assert d["strings"] == [0, "a", "walking", "b", "c", "chatting with a fairly long name"]
    assert d["xy"] == [0, 1, 2, 2, None, 4]  # an axis that did not change is null
    assert d["text"] == {"label": [0, 1, 3, 4], "target": [0, None]}
    assert d["num"] == {"cash": [0, 7]}
    assert d["other"] == [[2, {"tags": ["x"]}]]
    assert d["events_cut"] == 5
    texts = [e[3] for e in d["events"]]
    assert texts[:CHAT_TEXTS] == [f"hi {i}" for i in range(CHAT_TEXTS)] and texts[CHAT_TEXTS:-1] == [None] * 5
    assert d["events"][-1] == ["use", 3, None, "c used the oven"]  # the table is full: literal kind
    assert d["events"][0][:3] == ["chat", 0, 2]
    again = compact_tick({"tick": 4, "clock": "", "agents": [{"id": "a", "label": "walking"}]}, table)
    assert again["strings"] == [5] and again["text"] == {"label": [0, 1]}
