"""What a mayor writes: a task and its completion condition (scenario files, `post_task`).

Pydantic models with extra="forbid"; the condition is chosen by its `type`. The task board
(`server.world.tasks`) checks the conditions from the world's state every tick.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildingExists(_Spec):
    """`count` buildings of a template (or kind) stand in town, optionally built after posting."""

    type: Literal["building_exists"]
    template: str | None = None
    kind: str | None = None
    count: int = Field(default=1, ge=1)
    built_after_post: bool = False

    @model_validator(mode="after")
    def _one(self) -> BuildingExists:
        if not (self.template or self.kind):
            raise ValueError("give a template or a kind")
        return self


class Employed(_Spec):
    """`count` agents are employed at `building` (with `title`, and `shifts` worked, if given)."""

    type: Literal["employed"]
    building: str
    count: int = Field(default=1, ge=1)
    title: str | None = None
    shifts: int = Field(default=0, ge=0)


class LedgerTotal(_Spec):
    """The total cash of all agents is at least `percent`% of the total at posting (120 = +20%)."""

    type: Literal["ledger_total"]
    percent: float = Field(gt=0, le=100_000)


class Visited(_Spec):
    """`count` agents (or `agent`) stood at `building` or used its equipment (`equipment` spec)."""

    type: Literal["visited"]
    building: str
    agent: str | None = None
    equipment: str | None = None
    count: int = Field(default=1, ge=1)


class KnowsFact(_Spec):
    """`count` agents have a memory containing every key word of `fact` (or of `keywords`)."""

    type: Literal["knows_fact"]
    fact: str = Field(min_length=1, max_length=500)
    keywords: list[str] | None = None
    count: int = Field(default=1, ge=1)


class CompanyFounded(_Spec):
    """A company is registered at `building` after posting and has `members` (founder + employees)."""

    type: Literal["company"]
    building: str
    members: int = Field(default=3, ge=1)


Condition = Annotated[
    BuildingExists | Employed | LedgerTotal | Visited | KnowsFact | CompanyFounded,
    Field(discriminator="type"),
]


class TaskSpec(_Spec):
    """A task as a mayor writes it (scenario file, `post_task`)."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    reward: int = Field(default=0, ge=0, le=1_000_000)
    building: str | None = Field(default=None, description="where the work happens (agents go there)")
    deadline_ticks: int | None = Field(default=None, ge=1, description="ticks after posting")
    deadline_minutes: int | None = Field(default=None, ge=1, description="game minutes after posting")
    slots: int | None = Field(default=None, ge=1, description="most agents who may take it (hiring: count)")
    condition: Condition


def keywords(text: str) -> list[str]:
    """The key words of a fact: lower-case words of 4+ letters, in order, no repeats."""
    from agent.llm.scripted import words

    return list(dict.fromkeys(w for w in words(text) if len(w) >= 4))
