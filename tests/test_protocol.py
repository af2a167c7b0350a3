"""The websocket protocol: envelopes, ids echoed, and every kind of bad frame answered with an
error frame while the connection stays open and nothing stored changes."""

from __future__ import annotations

import orjson
import pytest

from server.app import Running
from server.client import CommandError, TownClient
from tests.conftest import table_counts


async def test_info_lists_commands_and_modules(client: TownClient) -> None:
    info = await client.call("info")
    assert info["town"] == "Willowbrook"
    for name in ("info", "get_town", "create_building", "register", "get_agent", "subscribe", "login"):
        assert name in info["commands"]
    assert {"qa", "daily"} <= set(info["plan_modules"])
    assert {"long_term", "stream"} <= set(info["memory_modules"])
    assert info["role"] == "viewer"


async def test_answer_echoes_request_id(client: TownClient) -> None:
    await client.send_raw(orjson.dumps({"id": "abc-7", "command": "info", "data": {}}))
    frame = await client.answer("abc-7")
    assert frame["id"] == "abc-7" and frame["ok"] is True and frame["result"]["server"] == "aitown"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"this is not json", "bad_frame"),
        (b"[1, 2, 3]", "bad_frame"),
        (b'{"id": 1, "data": {}}', "bad_frame"),
        (b'{"id": 2, "command": "info", "data": {}, "extra": 1}', "bad_frame"),
        (b'{"id": 3, "command": "no_such_command", "data": {}}', "unknown_command"),
        (b'{"id": 4, "command": "get_agent", "data": {"agent_id": 5}}', "invalid_request"),
        (b'{"id": 5, "command": "get_agent", "data": {"agent_id": "x", "bogus": true}}', "invalid_request"),
        (b'{"id": 6, "command": "../server/app", "data": {}}', "unknown_command"),
        (b'{"id": 7, "command": "register", "data": {"name": "X", "bio": "b", "goal": "g"}}', "forbidden"),
    ],
)
async def test_bad_frames_get_error_and_connection_stays(
    town: Running, client: TownClient, raw: bytes, code: str
) -> None:
    before = table_counts(town.services.settings.db)
    await client.send_raw(raw)
    frame = await client.recv()
    assert frame["ok"] is False
    assert frame["error"]["code"] == code, frame
    assert frame["error"]["message"]
    # the connection is still usable and nothing stored changed
    assert (await client.call("info"))["server"] == "aitown"
    assert table_counts(town.services.settings.db) == before


async def test_oversize_frame_refused_connection_open(town: Running, client: TownClient) -> None:
    limit = town.services.settings.limits.max_frame_bytes
    big = orjson.dumps({"id": 9, "command": "info", "data": {"pad": "x" * (limit + 10)}})
    await client.send_raw(big)
    frame = await client.recv()
    assert frame["error"]["code"] == "frame_too_large"
    assert (await client.call("info"))["tick"] == 0


async def test_unknown_command_error_names_known_ones(client: TownClient) -> None:
    with pytest.raises(CommandError) as e:
        await client.call("teleport")
    assert e.value.code == "unknown_command" and "get_town" in e.value.message


async def test_login_roles(client: TownClient) -> None:
    with pytest.raises(CommandError) as e:
        await client.call("login", token="wrong")
    assert e.value.code == "forbidden"
    assert (await client.call("login", player="Pat", secret="Pat-secret"))["role"] == "player"
    assert (await client.call("login", token="test-admin-token"))["role"] == "admin"


def test_each_error_code_is_one_game_error_class() -> None:
    """Error codes are defined one way: a GameError subclass per code, no two sharing one."""
    import inspect

    from server import errors

    classes = [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.GameError) and c is not errors.GameError
    ]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)), sorted(codes)
    assert {"unknown_plugin", "invalid_town", "paused", "action_refused"} <= set(codes)
