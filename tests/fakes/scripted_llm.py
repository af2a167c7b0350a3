"""Fakes for cognition tests: a model that records requests and answers from a script, and a
small town perception to think about."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from agent.interfaces import (
    AgentBrief,
    BuildingView,
    EquipmentView,
    LanguageModel,
    LLMError,
    LLMRequest,
    LLMResult,
    Perception,
    TaskView,
    Usage,
)

Answerer = Callable[[LLMRequest], str]


class RecordingModel:
    """A `LanguageModel` that records every request and answers from a list (in order, the last one
    repeating) or a callable, or passes the request on to `delegate` (another model). An answer that
    is an exception instance is raised instead; `delay_s` makes every call sleep first."""

    name = "recording"

    def __init__(
        self,
        answers: Sequence[str | Exception] | Answerer = (),
        *,
        delay_s: float = 0.0,
        delegate: LanguageModel | None = None,
    ) -> None:
        self.answers = answers
        self.delegate = delegate
        self.delay_s = delay_s
        self.requests: list[LLMRequest] = []
        self.closed = False

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The next scripted answer."""
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.delegate is not None:
            return await self.delegate.complete(request)
        if callable(self.answers):
            answer: str | Exception = self.answers(request)
        else:
            answer = self.answers[min(len(self.requests) - 1, len(self.answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return LLMResult(text=answer, usage=Usage(10, len(answer) // 4), model=self.name)

    async def aclose(self) -> None:
        """Mark closed."""
        self.closed = True

    def kinds(self) -> list[str]:
        """The kinds asked, in order."""
        return [r.kind for r in self.requests]


def failing(message: str = "boom") -> LLMError:
    """An LLMError to put in a script."""
    return LLMError(message)


def equipment(
    eid: str,
    name: str,
    description: str,
    *,
    price: int = 0,
    income: int = 0,
    operations: tuple[str, ...] = ("use",),
) -> EquipmentView:
    """An equipment view with room for users."""
    return EquipmentView(
        id=eid,
        name=name,
        description=description,
        operations=operations,
        price=price,
        income=income,
        capacity=4,
        in_use=0,
    )


def sample_perception(
    *,
    agent_id: str = "a1",
    goal: str = "open a bakery and bake bread",
    cash: int = 50,
    tick: int = 10,
    minute_of_day: int = 8 * 60,
    day: int = 1,
    building_id: str | None = "home",
    nearby: tuple[AgentBrief, ...] = (),
    tasks: tuple[TaskView, ...] = (),
    events: tuple[str, ...] = (),
) -> Perception:
    """A town of four buildings: a home, a bakery, a park and a bank."""
    buildings = (
        BuildingView(
            "home",
            "Home",
            "house",
            "where you sleep and rest",
            1,
            1,
            (equipment("bed", "Bed", "sleep and rest", operations=("sleep", "nap")),),
        ),
        BuildingView(
            "bakery",
            "Bakery",
            "shop",
            "a bakery that bakes bread and cakes",
            5,
            5,
            (
                equipment("oven", "Oven", "bake bread for customers", income=8, operations=("bake",)),
                equipment("counter", "Counter", "buy bread and cakes", price=5, operations=("buy",)),
            ),
        ),
        BuildingView(
            "park",
            "Park",
            "park",
            "green space for a walk",
            9,
            2,
            (equipment("bench", "Bench", "sit and chat"),),
        ),
        BuildingView(
            "bank",
            "Bank",
            "bank",
            "loans and savings",
            3,
            8,
            (equipment("desk", "Loan desk", "take a loan", price=100, operations=("borrow",)),),
        ),
    )
    return Perception(
        tick=tick,
        minute_of_day=minute_of_day,
        day=day,
        clock=f"Day {day} {minute_of_day // 60:02d}:00",
        agent_id=agent_id,
        name="Ann",
        bio="a young cook",
        goal=goal,
        cash=cash,
        x=1,
        y=1,
        building_id=building_id,
        job=None,
        buildings=buildings,
        nearby=nearby,
        tasks=tasks,
        events=events,
    )
