"""Replay: the town at any tick and every tick's changes, from the frames each tick commits."""

from __future__ import annotations

from typing import Any

from server.app import run_town
from server.client import TownClient
from server.runs.replay import KEYFRAME_EVERY, fields_of
from tests.conftest import ADMIN, make_settings


def full(agents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Agents by id, without null fields and the delta-only `cleared`."""
    return {a["id"]: {k: v for k, v in a.items() if v is not None and k != "cleared"} for a in agents}


async def test_replay_gives_every_tick_as_it_was(db_url: str) -> None:
    async with run_town(make_settings(db_url, runs={"checkpoint_every": 0})) as r:
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        w = r.services.world
        seen: dict[int, dict[str, dict[str, Any]]] = {}
        last = KEYFRAME_EVERY + 12
        for i in range(last):
            if i == 40:  # an agent joins between ticks, one leaves
                await admin.call("register", name="Late Comer", bio="New here.", goal="Find work.")
                await admin.call("delete_agent", agent_id=sorted(w.agents)[0])
            await admin.call("tick")
            seen[w.clock.tick] = {a.id: fields_of(a) for a in w.agents.values()}
        assert set(seen[39]) != set(seen[41]), "an agent joined and one left"
        moves = sum(1 for t in range(2, last + 1) for aid in seen[t] if seen[t][aid] != seen[t - 1].get(aid))
        assert moves > 30, "the town hardly changed: the test would prove little"

        viewer = await TownClient.connect(r.ws_url)
        for tick in (1, 2, 39, 40, 41, KEYFRAME_EVERY - 1, KEYFRAME_EVERY, KEYFRAME_EVERY + 1, last):
            st = await viewer.call("replay_state", tick=tick)
            assert (st["first_tick"], st["last_tick"], st["run"]) == (1, last, "main")
            assert full(st["agents"]) == full(list(seen[tick].values())), f"state at tick {tick}"
            assert st["clock"].startswith("Day 1 ")

        # replaying the frames from tick 1 gives every tick, events included
        frames = (await viewer.call("replay_frames", from_tick=1, to_tick=last))["frames"]
        assert [f["tick"] for f in frames] == list(range(1, last + 1))
        assert frames[0]["keyframe"] and frames[KEYFRAME_EVERY - 1]["keyframe"] and not frames[1]["keyframe"]
        state: dict[str, dict[str, Any]] = {}
        for f in frames:
            if f["keyframe"]:
                state = {}
            for a in f["agents"]:
                known = state.setdefault(a["id"], {})
                known.update({k: v for k, v in a.items() if v is not None and k != "cleared"})
                for k in a["cleared"]:
                    known.pop(k, None)
            for gone in f["gone"]:
                del state[gone]
            assert state == full(list(seen[f["tick"]].values())), f"tick {f['tick']}"
        stored = await w.repo.rows("events")
        assert [e["text"] for f in frames for e in f["events"]] == [
            e["text"] for e in stored if e["tick"] >= 1
        ]
        assert stored, "no events happened: the events check proves nothing"

        # another run replays by name, while the open one goes on
        await admin.call("fork_run", name="then")
        await admin.call("tick", count=3)
        st = await viewer.call("replay_state", tick=last, run="then")
        assert full(st["agents"]) == full(list(seen[last].values())) and st["last_tick"] == last
        await admin.call("open_run", name="then")
        await admin.call("tick")
        frames = (await viewer.call("replay_frames", from_tick=last, to_tick=last + 1))["frames"]
        assert frames[1]["keyframe"], "the first tick after opening a run is a keyframe"
        admin.close()
        viewer.close()
