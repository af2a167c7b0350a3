"""A mayor who thinks: a scenario with a goal instead of tasks; the mayor agent decides on the
offline scripted model which tasks to post (prompt kind `mayor_plan`), pays the rewards from its
own cash, and the scenario completes; `mayor_think` refusals change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mayor
from agent.llm.scripted_mayor import mayor_plan
from agent.prompts import default_book
from agent.prompts.schemas import MayorPlan
from server.app import Running
from server.client import CommandError, TownClient
from tests.test_mayor import ROOT, run_scenario


async def test_mayor_agent_posts_tasks_toward_its_goal_and_the_scenario_completes(
    town: Running, tmp_path: Path
) -> None:
    w = town.services.world
    cash = w.agents["david-okafor"].cash
    rc, rep = await run_scenario(town, ROOT / "scenarios/mayor_agent.json", tmp_path)
    assert rc == 0
    assert rep["scenario"]["task_ids"] and all(t["status"] == "completed" for t in rep["tasks"])
    (task,) = rep["tasks"]  # the goal is covered by one staffing task, posted once
    assert task["mayor"] == "david-okafor" and task["condition"]["type"] == "employed"
    assert task["condition"]["building"] == "dessert-shop" and task["condition"]["count"] == 2
    assert 0 < task["reward"] <= cash // 2
    entries = await w.repo.ledger_entries()
    assert ("agent:david-okafor", f"escrow:task:{task['id']}", task["reward"]) in [
        (e.src, e.dst, e.amount) for e in entries
    ]
    calls = await w.repo.rows("llm_calls", order="id")
    assert any(c["kind"] == "mayor_plan" and c["agent_id"] == "david-okafor" for c in calls)
    assert rep["ledger"]["zero_sum"]


async def test_mayor_think_follows_up_and_refuses_cleanly(admin: TownClient, town: Running) -> None:
    goal = "Grow the town's total cash by 20% and hire two cooks for the dessert shop"
    first = await admin.call("mayor_think", mayor="david-okafor", goal=goal)
    kinds = sorted(t["condition"]["type"] for t in first["posted"])
    assert kinds == ["employed", "ledger_total"] and not first["failed"]
    assert first["posted"][1]["condition"]["percent"] == 120
    again = await admin.call("mayor_think", mayor="david-okafor", goal=goal)
    assert again["posted"] == []  # its open tasks already cover the goal
    with pytest.raises(CommandError) as e:
        await admin.call("mayor_think", mayor="nobody", goal=goal)
    assert e.value.code == "not_found"
    assert len((await admin.call("list_tasks"))["tasks"]) == 2


def test_scripted_mayor_plan_fits_its_answer_model_and_the_prompt_renders() -> None:
    ctx = {
        "name": "M",
        "bio": "b",
        "goal": "g",
        "clock": "Day 1 08:00",
        "cash": 7,
        "town_goal": "Open a new cafe and staff it",
        "max_new": 3,
        "buildings": [{"id": "c1", "name": "Cafe", "kind": "food", "template": "cafe", "jobs": ["barista"]}],
        "templates": [{"name": "cafe", "kind": "food", "price": 500}],
        "my_tasks": [
            {
                "title": "x",
                "status": "expired",
                "reward": 2,
                "condition": {"type": "employed", "building": "c1"},
            }
        ],
    }
    plan = MayorPlan.model_validate(mayor_plan(ctx))
    assert [t.condition["type"] for t in plan.tasks] == ["building_exists", "employed"]
    assert sum(t.reward for t in plan.tasks) <= 7 and plan.tasks[1].reward == 3  # re-posted: 2 -> 3
    system, user = default_book().render("mayor_plan", ctx)
    assert "Open a new cafe and staff it" in system.content and "barista" in user.content


def test_a_goal_needs_a_mayor_agent(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "goal": "grow", "mayor": "player"}))
    with pytest.raises(mayor.ScenarioError, match="needs a mayor agent"):
        mayor.load_scenario(bad)
