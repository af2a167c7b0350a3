"""Planners with the scripted model: valid buildings, daily schedule, reaction, state round trip."""

from __future__ import annotations

import json

from agent.llm.embedders import HashingEmbedder
from agent.llm.scripted import ScriptedModel
from agent.memory.long_term import LongTermMemory
from agent.memory.stream import StreamMemory
from agent.mind import AgentMind
from agent.plan.daily import DailyPlanner
from agent.plan.qa import QAPlanner
from agent.prompts import default_book
from tests.fakes.scripted_llm import RecordingModel, sample_perception


def scripted_mind(agent_id: str = "a1") -> AgentMind:
    return AgentMind(agent_id, ScriptedModel(), HashingEmbedder(64), default_book(), call_timeout_s=1.0)


async def test_qa_plan_picks_goal_building() -> None:
    mind = scripted_mind()
    planner = QAPlanner()
    p = sample_perception(goal="bake bread", minute_of_day=10 * 60)  # working hours: to work
    decision = await planner.plan(mind, p, StreamMemory())
    assert decision.building_id == "bakery" and decision.purpose
    assert mind.failures == [] and planner.describe().startswith("qa plan: go to bakery")
    clone = QAPlanner()
    clone.load(json.loads(json.dumps(planner.dump())))
    assert clone.dump() == planner.dump()


async def test_plans_always_name_existing_buildings() -> None:
    ids = {b.id for b in sample_perception().buildings}
    for planner in (QAPlanner(), DailyPlanner()):
        for i, goal in enumerate(("bake bread", "rest in bed", "xyzzy", "take a loan at the bank", "")):
            p = sample_perception(agent_id=f"a{i}", goal=goal, minute_of_day=(7 + i) * 60)
            d = await planner.plan(scripted_mind(p.agent_id), p, LongTermMemory())
            assert d.building_id in ids


async def test_daily_plans_once_per_day_and_hands_out_tasks() -> None:
    model = RecordingModel(delegate=ScriptedModel())
    mind = AgentMind("a1", model, HashingEmbedder(64), default_book(), call_timeout_s=1.0)
    planner, memory = DailyPlanner(), LongTermMemory()
    p = sample_perception(goal="bake bread", minute_of_day=9 * 60)
    first = [await planner.plan(mind, p, memory) for _ in range(4)]
    assert model.kinds() == ["daily_plan", "hourly_schedule", "decompose"]
    assert [d.purpose for d in first[:3]] != [first[0].purpose] * 3  # tasks advance
    assert all(d.building_id == "bakery" for d in first)
    await planner.plan(mind, sample_perception(goal="bake bread", minute_of_day=10 * 60), memory)
    assert model.kinds()[-1] == "decompose"  # a new hour slot is decomposed, the day is not re-planned
    await planner.plan(mind, sample_perception(goal="bake bread", day=2, minute_of_day=8 * 60), memory)
    assert model.kinds()[-3:] == ["daily_plan", "hourly_schedule", "decompose"]
    assert "day 2" in planner.describe()


async def test_daily_react_replans_schedule_from_now() -> None:
    mind = scripted_mind()
    planner, memory = DailyPlanner(), LongTermMemory()
    p = sample_perception(minute_of_day=9 * 60)
    await planner.plan(mind, p, memory)
    assert not await planner.react(mind, p, memory, "a bird sang")
    assert await planner.react(mind, p, memory, "the mayor announced an urgent task")
    assert planner.reaction is not None
    await planner.plan(mind, p, memory)
    assert planner.reaction is None


async def test_daily_state_round_trip_and_garbage_state() -> None:
    planner = DailyPlanner()
    await planner.plan(scripted_mind(), sample_perception(), LongTermMemory())
    clone = DailyPlanner()
    clone.load(json.loads(json.dumps(planner.dump())))
    assert clone.dump() == planner.dump()
    clone.load({"schedule": [{"nope": 1}]})
    assert clone.day is None


async def test_daily_falls_back_when_model_fails() -> None:
    mind = AgentMind(
        "a1", RecordingModel(["nonsense"]), HashingEmbedder(8), default_book(), call_timeout_s=1.0
    )
    d = await DailyPlanner().plan(mind, sample_perception(building_id="park"), LongTermMemory())
    assert d.building_id == "park" and len(mind.failures) == 3
