"""Bad input outside the websocket (issue 7): static file requests cannot leave the web root;
broken town files are refused naming the file and the field."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import tornado.httpclient

from config.settings import ROOT
from server.app import Running
from server.world.town import TownFileError, TownFiles, load_presets


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """An HTTP GET with the target sent byte for byte (no client-side normalising)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize(
    "target",
    [
        "/../server/app.py",
        "/%2e%2e/server/app.py",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/..%2fserver%2fapp.py",
        "/js/../../app.py",
        "/js/..%2f..%2fapp.py",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/etc/passwd",
        f"/{ROOT}/server/app.py",
        "/..\\server\\app.py",
        "/%5c..%5cserver%5capp.py",
        "/../../../../etc/passwd",
    ],
)
async def test_static_files_stay_in_the_web_root(town: Running, target: str) -> None:
    import asyncio

    status, body = await asyncio.get_running_loop().run_in_executor(None, raw_get, town.port, target)
    assert status in (400, 403, 404), (target, status)
    assert b"run_town" not in body and b"root:" not in body


async def test_static_client_is_served(town: Running) -> None:
    r = await tornado.httpclient.AsyncHTTPClient().fetch(town.url + "/")
    assert r.code == 200


def _copy_town(tmp: Path) -> Path:
    for f in ("town.json", "templates.json", "equipment.json"):
        shutil.copy(ROOT / "buildings" / f, tmp / f)
    return tmp / "town.json"


@pytest.mark.parametrize(
    ("file", "mutate", "expect"),
    [
        ("templates.json", lambda d: d["templates"].append(dict(d["templates"][0])), "templates.%d.name"),
        ("equipment.json", lambda d: d["equipment"].append(dict(d["equipment"][0])), "equipment.%d.name"),
        ("town.json", lambda d: d["buildings"].append(dict(d["buildings"][0])), "buildings.%d.id"),
        ("town.json", lambda d: d["tiles"].__setitem__(0, "?" + d["tiles"][0][1:]), "tiles"),
        ("town.json", lambda d: d.update(templates="missing.json"), "missing.json"),
    ],
)
def test_more_broken_town_files(tmp_path: Path, file: str, mutate, expect: str) -> None:  # type: ignore[no-untyped-def]
    town = _copy_town(tmp_path)
    data = json.loads((tmp_path / file).read_text())
    mutate(data)
    key = next(iter(k for k in ("templates", "equipment", "buildings") if k in expect), None)
    if key and "%d" in expect:
        expect = expect % (len(data[key]) - 1)
    (tmp_path / file).write_text(json.dumps(data))
    with pytest.raises(TownFileError) as e:
        TownFiles(town)
    assert expect in str(e.value), str(e.value)


def test_broken_agent_presets_name_file_and_field(tmp_path: Path) -> None:
    data = json.loads((ROOT / "config" / "agents.json").read_text())
    data["agents"][1]["cash"] = -3
    p = tmp_path / "agents.json"
    p.write_text(json.dumps(data))
    with pytest.raises(TownFileError) as e:
        load_presets(p)
    assert "agents.json" in str(e.value) and "agents.1.cash" in str(e.value)
