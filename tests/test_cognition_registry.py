"""The plug-in registry: built once, makes plug-ins by name, refuses unknown names listing valid ones."""

from __future__ import annotations

import pytest

from agent.memory.long_term import LongTermMemory
from agent.memory.stream import StreamMemory
from agent.plan.daily import DailyPlanner
from agent.plan.qa import QAPlanner
from agent.registry import UnknownPlugin, plugin_registry


def test_names_and_factories() -> None:
    reg = plugin_registry()
    assert reg.planner_names() == ("daily", "qa") and reg.memory_names() == ("long_term", "stream")
    assert isinstance(reg.make_planner("qa"), QAPlanner)
    assert isinstance(reg.make_planner("daily"), DailyPlanner)
    assert isinstance(reg.make_memory("long_term"), LongTermMemory)
    stream = reg.make_memory("stream", reflect_threshold=10)
    assert isinstance(stream, StreamMemory) and stream.reflect_threshold == 10
    assert reg.make_planner("qa") is not reg.make_planner("qa")


def test_unknown_names_refused_with_valid_ones() -> None:
    reg = plugin_registry()
    with pytest.raises(UnknownPlugin) as info:
        reg.make_planner("astrology")
    assert info.value.valid_names == ("daily", "qa")
    assert "astrology" in str(info.value) and "daily, qa" in str(info.value)
    with pytest.raises(UnknownPlugin, match="long_term, stream"):
        reg.make_memory("goldfish")
    with pytest.raises(UnknownPlugin, match="valid names"):
        reg.check(plan="qa", memory="goldfish")
    reg.check(plan="daily", memory="stream")


def test_registry_is_read_only() -> None:
    reg = plugin_registry()
    with pytest.raises(TypeError):
        reg.planners["evil"] = QAPlanner  # type: ignore[index]
