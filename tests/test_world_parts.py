"""The world's parts on their own: ledger rules, A* pathfinding, the game clock, town files, agent rows."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from agent.state import ActorState, AgentRecord
from server.errors import GameError, InsufficientFunds
from server.world.clock import Clock
from server.world.economy import Ledger
from server.world.grid import Grid
from server.world.town import TownFileError, TownFiles

ROOT = Path(__file__).resolve().parent.parent


def test_ledger_conserves_money_and_refuses_overdraft() -> None:
    led = Ledger()
    led.transfer(0, "source:grant", "agent:a", 100, "start")
    led.transfer(1, "agent:a", "town", 30, "coffee")
    with pytest.raises(InsufficientFunds):
        led.transfer(2, "agent:a", "town", 71, "too much")
    with pytest.raises(GameError):
        led.transfer(2, "agent:a", "source:grant", 1, "into a source")
    with pytest.raises(GameError):
        led.transfer(2, "agent:a", "town", 0, "nothing")
    assert led.balance("agent:a") == 70 and led.balance("town") == 30
    assert led.total() == 0
    assert [e.reason for e in led.drain()] == ["start", "coffee"]
    assert led.pending == []


def _bfs_len(g: Grid, a: tuple[int, int], b: tuple[int, int]) -> int | None:
    from collections import deque

    seen = {a: 0}
    q = deque([a])
    while q:
        x, y = q.popleft()
        if (x, y) == b:
            return seen[(x, y)]
        for n in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if g.walkable(*n) and n not in seen:
                seen[n] = seen[(x, y)] + 1
                q.append(n)
    return None


def test_astar_finds_shortest_paths_around_walls() -> None:
    rng = random.Random(3)
    w, h = 40, 30
    g = Grid(w, h, [rng.random() > 0.25 for _ in range(w * h)])
    pts = [(x, y) for y in range(h) for x in range(w) if g.walkable(x, y)]
    for _ in range(200):
        a, b = rng.choice(pts), rng.choice(pts)
        p = g.path(a, b)
        expect = _bfs_len(g, a, b)
        if expect is None:
            assert p is None
            continue
        assert p is not None and len(p) == expect
        prev = a
        for step in p:
            assert g.walkable(*step)
            assert abs(step[0] - prev[0]) + abs(step[1] - prev[1]) == 1
            prev = step
        assert prev == b


def test_path_cache_invalidated_when_grid_changes() -> None:
    g = Grid.from_rows(["....", "....", "...."], {".": True})
    assert g.path((0, 1), (3, 1)) is not None and len(g.path((0, 1), (3, 1)) or ()) == 3
    for y in range(3):
        g.set_walkable(2, y, False)
    assert g.path((0, 1), (3, 1)) is None


def test_clock_advances_only_by_ticks() -> None:
    c = Clock(tick_seconds=10)
    assert str(c) == "Day 1 08:00"
    for _ in range(6 * 60 * 16):  # 16 game hours
        c.advance()
    assert str(c) == "Day 2 00:00" and c.day == 2


def _copy_town(tmp: Path) -> Path:
    for f in ("town.json", "templates.json", "equipment.json"):
        shutil.copy(ROOT / "buildings" / f, tmp / f)
    return tmp / "town.json"


@pytest.mark.parametrize(
    ("file", "mutate", "expect"),
    [
        ("town.json", lambda d: d["buildings"][0].update(template="castle"), "buildings.0.template"),
        ("town.json", lambda d: d["tiles"].__setitem__(3, d["tiles"][3][:-1]), "tiles"),
        ("town.json", lambda d: d.update(colour="red"), "colour"),
        (
            "templates.json",
            lambda d: d["templates"][0].update(footprint={"w": 0, "h": 2}),
            "templates.0.footprint.w",
        ),
        (
            "templates.json",
            lambda d: d["templates"][1]["equipment"].append("jacuzzi"),
            "templates.1.equipment",
        ),
        ("equipment.json", lambda d: d["equipment"][2].update(price=-5), "equipment.2.price"),
        ("equipment.json", lambda d: d["equipment"][0].pop("operations"), "equipment.0.operations"),
    ],
)
def test_broken_town_files_name_file_and_field(tmp_path: Path, file: str, mutate, expect: str) -> None:  # type: ignore[no-untyped-def]
    town = _copy_town(tmp_path)
    data = json.loads((tmp_path / file).read_text())
    mutate(data)
    (tmp_path / file).write_text(json.dumps(data))
    with pytest.raises(TownFileError) as e:
        TownFiles(town)
    assert file in str(e.value) and expect in str(e.value), str(e.value)


def test_town_file_not_json(tmp_path: Path) -> None:
    town = _copy_town(tmp_path)
    (tmp_path / "equipment.json").write_text("{ not json")
    with pytest.raises(TownFileError) as e:
        TownFiles(town)
    assert "equipment.json" in str(e.value) and "line 1" in str(e.value)


def test_server_refuses_to_start_on_broken_town(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from server.app import main

    town = _copy_town(tmp_path)
    (tmp_path / "templates.json").write_text('{"templates": [{"name": "x"}]}')
    rc = main(["--town", str(town), "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}", "--port", "0"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "templates.json" in err and "templates.0.kind" in err


@pytest.mark.parametrize(
    ("where", "mutate", "expect"),
    [
        ("town.json", lambda d: d["buildings"][1].update(x=46), "buildings.1"),  # off the map
        ("town.json", lambda d: d["buildings"][2].update(x=3, y=3), "buildings.2"),  # on another building
        ("agents.json", lambda d: d["agents"][0].update(home="atlantis"), "agents.0.home"),
        ("agents.json", lambda d: d["agents"][1].update(plan="telepathy"), "agents.1"),
    ],
)
def test_founding_errors_name_file_and_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    mutate,
    expect: str,
) -> None:  # type: ignore[no-untyped-def]
    from server.app import main

    town = _copy_town(tmp_path)
    shutil.copy(ROOT / "config" / "agents.json", tmp_path / "agents.json")
    data = json.loads((tmp_path / where).read_text())
    mutate(data)
    (tmp_path / where).write_text(json.dumps(data))
    monkeypatch.setenv("TOWN_AGENTS", str(tmp_path / "agents.json"))
    rc = main(["--town", str(town), "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}", "--port", "0"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert where in err and expect in err, err


def test_walking_agent_row_keeps_its_path() -> None:
    """A moving agent's path is stored as step letters and reads back as the same tiles; rows
    written before schema 4 (a list of tiles) still load, and a path with a jump stays a list."""
    grid = Grid.from_rows(["......", ".####.", "......"], {".": True, "#": False})
    path = grid.path((0, 0), (5, 2))
    assert path is not None and len(path) == 7
    a = AgentRecord(
        id="a1",
        name="Ann",
        bio="b",
        goal="g",
        sprite="s",
        llm="scripted",
        plan="qa",
        memory_module="long_term",
        x=0,
        y=0,
        state=ActorState.MOVING,
        path=list(path),
    )
    row = a.to_row()
    assert json.loads(row["data"])["path"] == "RRRRRDD"
    back = AgentRecord.from_row(row)
    assert back.path == list(path) and back.to_row() == row

    legacy = dict(row, data=json.dumps({**json.loads(row["data"]), "path": [list(p) for p in path]}))
    assert AgentRecord.from_row(legacy).path == list(path)

    a.path = [(1, 0), (3, 0)]
    assert AgentRecord.from_row(a.to_row()).path == [(1, 0), (3, 0)]
    with pytest.raises(ValueError, match="'X' is not a step"):
        AgentRecord.from_row(dict(row, data=json.dumps({**json.loads(row["data"]), "path": "RX"})))
