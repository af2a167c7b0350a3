"""Property-based fuzzing of the websocket protocol (issue 7): random bytes, random JSON, envelopes
with random commands and data, and mutations of valid requests of every command. The server never
crashes, answers every frame with a well-formed answer or error frame, keeps the connection open,
and a refused frame changes nothing stored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.app import run_town
from server.client import TownClient
from tests.conftest import ADMIN, make_settings, table_counts

VALID: dict[str, dict[str, Any]] = {
    "get_town": {},
    "info": {},
    "subscribe": {"on": True},
    "get_agent": {"agent_id": "alice-chen", "memories": 5, "ledger": 5},
    "login": {"player": "fuzzer", "secret": "fuzzer-secret"},
    "register": {"name": "Fuzz Agent", "bio": "b", "goal": "g", "cash": 10, "home": "cafe"},
    "chat_with_npc": {"agent_id": "carmen-diaz", "text": "hello"},
    "create_building": {"template": "house", "x": 3, "y": 3, "payer": "fuzz-agent"},
    "delete_agent": {"agent_id": "alice-chen"},
    "pause": {"on": False},
    "tick": {"count": 1},
    "reset": {"confirm": True},
}
ADMIN_SKIPS = {"tick", "reset", "pause"}  # an admin may legitimately run these: not fuzzed as admin

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_value = st.recursive(
    json_leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=10), kids, max_size=4)
    ),
    max_leaves=12,
)
command_name = st.one_of(st.sampled_from(sorted(VALID)), st.text(max_size=70))


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request of some command, then changed in one or two ways."""
    name = draw(st.sampled_from(sorted(VALID)))
    data: Any = dict(VALID[name])
    frame: dict[str, Any] = {"id": draw(st.integers(0, 10**6)), "command": name, "data": data}
    for _ in range(draw(st.integers(1, 2))):
        how = draw(st.sampled_from(["drop", "add", "replace", "data", "id", "envelope", "command"]))
        keys = sorted(data) if isinstance(data, dict) else []
        if how == "drop" and keys:
            data.pop(draw(st.sampled_from(keys)))
        elif how == "add" and isinstance(data, dict):
            data[draw(st.text(max_size=12))] = draw(json_value)
        elif how == "replace" and keys:
            data[draw(st.sampled_from(keys))] = draw(
                st.one_of(json_value, st.integers(-(10**9), 10**9), st.text(min_size=60, max_size=3000))
            )
        elif how == "data":
            frame["data"] = data = draw(json_value)
        elif how == "id":
            frame["id"] = draw(json_value)
        elif how == "envelope":
            frame[draw(st.sampled_from(["extra", "type", "result", "command"]))] = draw(json_value)
        elif how == "command":
            frame["command"] = draw(command_name)
    return frame


frames = st.one_of(
    st.binary(max_size=200),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=200),
    json_value.map(json.dumps),
    st.builds(
        lambda i, c, d: json.dumps({"id": i, "command": c, "data": d}), json_value, command_name, json_value
    ),
    st.builds(
        lambda i, c, d: json.dumps({"id": i, "command": c, "data": d}),
        st.integers(0, 99),
        command_name,
        st.dictionaries(st.text(max_size=12), json_value, max_size=5),
    ),
    mutated().map(json.dumps),
    mutated().map(json.dumps),
    mutated().map(json.dumps),
)


def well_formed(answer: dict[str, Any]) -> bool:
    if answer.get("ok") is True:
        return set(answer) == {"id", "ok", "result"} and isinstance(answer["result"], dict)
    err = answer.get("error")
    return (
        set(answer) == {"id", "ok", "error"}
        and answer["ok"] is False
        and isinstance(err, dict)
        and set(err) == {"code", "message"}
        and isinstance(err["code"], str)
        and bool(err["code"])
        and isinstance(err["message"], str)
        and bool(err["message"])
    )


def test_fuzzed_frames_never_hurt_the_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fuzz.sqlite3'}"
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # tornado's clients look the loop up when not running in it
    cm = run_town(
        make_settings(
            url,
            limits={
                "max_frame_bytes": 2048,
                "commands_per_second": 10_000,
                "command_burst": 10_000,
                "agents_per_town": 40,
            },
        )
    )
    running = loop.run_until_complete(cm.__aenter__())
    w = running.services.world

    async def connect(login: dict[str, Any] | None) -> TownClient:
        c = await TownClient.connect(running.ws_url)
        if login:
            await c.call("login", **login)
        return c

    clients = {
        role: loop.run_until_complete(connect(login))
        for role, login in (
            ("viewer", None),
            ("player", {"player": "fuzzer", "secret": "fuzzer-secret"}),
            ("admin", {"token": ADMIN}),
        )
    }
    stats = {"ok": 0, "refused": 0}

    def fingerprint() -> Any:
        return (
            table_counts(url),
            w.ledger.accounts(),
            w.clock.tick,
            sorted((a.id, a.x, a.y, a.cash, a.owner) for a in w.agents.values()),
            sorted(w.buildings),
        )

    async def exchange(c: TownClient, frame: str | bytes) -> dict[str, Any]:
        await c.send_raw(frame)
        while True:  # pushes (after a fuzzed subscribe) are skipped
            f = await c.recv(30)
            if "type" in f and "ok" not in f:
                continue
            return f

    @settings(
        max_examples=800,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(frame=frames, role=st.sampled_from(["viewer", "player", "admin"]))
    def check(frame: str | bytes, role: str) -> None:
        try:
            parsed = orjson.loads(frame)  # as the server reads it
        except orjson.JSONDecodeError:
            parsed = None
        if role == "admin" and isinstance(parsed, dict) and str(parsed.get("command")) in ADMIN_SKIPS:
            role = "player"
        before = fingerprint()
        answer = loop.run_until_complete(exchange(clients[role], frame))
        assert well_formed(answer), answer
        assert answer.get("error", {}).get("code") != "internal_error", answer
        sent_id = parsed.get("id") if isinstance(parsed, dict) else None
        if isinstance(sent_id, str | int) and not isinstance(sent_id, bool) and len(frame) <= 2048:
            assert answer["id"] == sent_id, (answer, sent_id)
        if answer["ok"]:
            stats["ok"] += 1
        else:
            stats["refused"] += 1
            assert fingerprint() == before, f"a refused frame changed the town: {frame!r} -> {answer}"

    try:
        check()
        for c in clients.values():  # every connection is still open and answers
            assert loop.run_until_complete(c.call("info"))["server"]
        assert stats["ok"] > 20 and stats["refused"] > 100, stats
        assert w.ledger.total() == 0
    finally:
        for c in clients.values():
            c.close()
        loop.run_until_complete(cm.__aexit__(None, None, None))
        loop.close()
        asyncio.set_event_loop(None)


# Names that look like the preset agents' or each other's (issue 13): case, spacing, accents,
# other scripts, compatibility forms, combining marks, invisible characters, multi-byte text.
LOOKALIKES = [
    "Bob Martin ",
    " bob  martin",
    "BOB MARTIN",
    "Alice Chen",
    "\u0410lice Chen",
    "Alice\u00a0Chen",
    "\uff21lice Chen",
    "Rene",
    "Ren\u00e9",
    "Rene\u0301",
    "Cafe",
    "Caf\u00e9",
    "CAF\u00c9",
    "Zo\u00eb" + "\u0308" * 30,
    "Bo\u200bb",
    "\u3000",
    "   ",
    "\u5f20\u4f1f",
    "\u3084\u307e\u3060 \u592a\u90ce",
    "\U0001d518\U0001d52b\U0001d526",
    "\u00df\u00df",
    "SSSS",
    "\u0130stanbul",
    "istanbul",
]
names = st.one_of(
    st.sampled_from(LOOKALIKES),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from(LOOKALIKES),
        st.sampled_from(["", " ", "\u0301", "\u00e9", "\u0131"]),
    ),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
)


async def test_fuzzed_names_never_merge_agents(db_url: str) -> None:
    """Lookalike and multi-byte names, registered as agents and claimed as players, on both
    backends: every answer is a success or a clear refusal (never `internal_error`), no two
    agents share a name key, and after a restart the same agents are there with the same cash
    (MariaDB's case- and accent-insensitive unique key used to merge rows)."""
    from server.world.names import name_key

    sent: list[str] = []

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(name=names)
    def collect(name: str) -> None:
        sent.append(name)

    collect()
    async with run_town(make_settings(db_url)) as r:
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        player = await TownClient.connect(r.ws_url)
        for i, name in enumerate(sent):
            for c, command, data in (
                (admin, "register", {"name": name, "bio": name or "b", "goal": "g", "cash": 3}),
                (player, "login", {"player": name, "secret": f"secret-{i:04d}"}),
            ):
                answer = await c.request(command, data)
                assert well_formed(answer), answer
                assert answer.get("error", {}).get("code") != "internal_error", (name, answer)
        w = r.services.world
        keys = [name_key(a.name) for a in w.agents.values()]
        assert len(keys) == len(set(keys))
        before = sorted((a.id, a.name, a.cash) for a in w.agents.values())
        admin.close()
        player.close()
    async with run_town(make_settings(db_url)) as r2:
        assert sorted((a.id, a.name, a.cash) for a in r2.services.world.agents.values()) == before
        assert r2.services.world.ledger.total() == 0
