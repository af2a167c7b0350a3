"""The town's records as clients see them in command results: typed, so the protocol reference
(`server/docs.py`) lists every field, and a record that gains or loses a key fails validation
in the tests instead of changing the wire format unnoticed.

The world builds these records as plain dicts (`Building.public()`, `AgentRecord.public()`, the
task board's rows); a command's `Response` declares them with these models, and pydantic checks
each dict against its model when the answer is built. The JSON on the wire is the same dicts.
"""

from __future__ import annotations

from pydantic import Field

from server.protocol import Model
from server.world.task_specs import Condition


class Tile(Model):
    """A tile of the map: (0, 0) is the top-left, x grows to the right, y downwards."""

    x: int
    y: int


class OperationInfo(Model):
    """An operation of an equipment with its own price."""

    name: str
    cost: int = Field(description="paid by the user")
    earn: int = Field(description="paid to the user")
    owner_only: bool = Field(description="only for the building's owner and employees")


class EquipmentInfo(Model):
    """A piece of equipment in a building."""

    id: str
    name: str = Field(description="its equipment type (equipment.json)")
    description: str
    operations: list[str] = Field(description="what an agent can do with it")
    price: int = Field(description="paid by the user per use")
    income: int = Field(description="paid to the user per use (work)")
    capacity: int = Field(description="how many agents may use it at once")
    job: str | None = Field(description="the job title it employs, if any")
    users: list[str] = Field(description="ids of the agents using it now")
    label: str = Field(description="the name shown (several equipment types may share one)")
    functions: list[OperationInfo] = Field(
        description="operations with their own prices (empty: `price`/`income` apply)"
    )
    menu: dict[str, int] = Field(description="items and their prices, when it has a menu")
    beds: int = Field(description="beds for residents (a building with beds is a home)")


class BuildingInfo(Model):
    """A building standing in the town."""

    id: str
    name: str
    template: str
    kind: str
    description: str
    x: int = Field(description="left column of its footprint")
    y: int = Field(description="top row of its footprint")
    w: int = Field(description="footprint width in tiles")
    h: int = Field(description="footprint height in tiles")
    entrance: Tile = Field(description="the one walkable tile of its footprint, where visitors stand")
    owner: str | None = Field(description="the player who built it, if a player did")
    equipment: list[EquipmentInfo]


class TemplateInfo(Model):
    """A building template: what `create_building` and `find_site` accept."""

    name: str
    kind: str
    description: str
    w: int = Field(description="footprint width in tiles")
    h: int = Field(description="footprint height in tiles")
    price: int = Field(description="what a player pays to put one up")
    equipment: list[str] = Field(description="equipment type names it comes with")


class AgentInfo(Model):
    """An agent, as anyone may see it."""

    id: str
    name: str
    bio: str
    goal: str
    sprite: str
    llm: str = Field(description="its LLM profile name")
    plan: str = Field(description="its plan module")
    memory: str = Field(description="its memory module")
    x: int
    y: int
    cash: int
    state: str = Field(description="inited, moving, using, idle or sleeping")
    target: str | None = Field(description="the building it is heading to or in")
    purpose: str = Field(description="why it is going there")
    using: str | None = Field(description="the equipment id it is using")
    label: str = Field(description="a short line of what it is doing")
    activity: str = Field(description="the timed action it is busy with (a use, a wait, sleep), if any")
    busy_until: int = Field(description="the tick that action ends")
    conversation: str | None = Field(description="the id of its open conversation, if any")
    owner: str | None = Field(description="the player who created it, if a player did")
    home: str | None = Field(description="the building it lives and sleeps in")
    failures: int = Field(description="failed steps and refused actions so far")
    last_error: str | None = Field(description="the latest of them")
    avatar: bool = Field(description="a player's avatar (its `owner` plays it; it never thinks)")


class MemoryInfo(Model):
    """One of an agent's memories."""

    kind: str = Field(
        description="observation, chat, conversation (a talk's summary), reflection, impression, experience or plan"
    )
    text: str
    tick: int
    importance: float
    subject: str | None = Field(description="whom or what an impression is about")


class ChatLine(Model):
    """A chat line an agent said or heard."""

    tick: int
    kind: str = Field(description="chat (between agents) or player_chat")
    agent_id: str | None = Field(description="the speaker")
    other_id: str | None = Field(description="the listener (an agent id or a player name)")
    text: str


class LedgerLine(Model):
    """A movement of cash."""

    tick: int
    src: str = Field(description="the account paying: agent:<id>, town, source:<name>, escrow:task:<id>")
    dst: str = Field(description="the account paid")
    amount: int
    reason: str


class JobInfo(Model):
    """An agent's job (a row of the jobs table)."""

    agent_id: str
    building_id: str
    title: str | None = Field(description="from the job equipment, e.g. cook")
    wage: int = Field(description="what a shift at its workplace's job equipment pays")
    since_tick: int


class Payment(Model):
    """A reward payment of a task."""

    tick: int
    src: str
    dst: str
    amount: int


class TaskInfo(Model):
    """A mayor's task and its progress."""

    id: str
    title: str
    description: str
    reward: int
    building: str | None = Field(description="where takers go")
    condition: Condition = Field(description="what completes it (see TaskSpec)")
    mayor: str = Field(description='an agent id, or "player"')
    status: str = Field(description="open, completed or expired")
    posted_tick: int
    deadline_tick: int | None
    completed_tick: int | None
    progress: str = Field(description='e.g. "1/2 cooks"')
    done: int
    target: int
    holders: list[str] = Field(description="agents who took it")
    credited: list[str] = Field(description="agents who were credited on completion")
    seen: list[str] = Field(description="visitors or knowers recorded so far")
    baseline: int = Field(description="ledger_total: the agents' total cash when it was posted")
    payments: list[Payment]
    history: list[list[int]] = Field(description="[tick, done] whenever progress changed")


class HomeInfo(Model):
    """A home: a building with beds, and who lives there."""

    id: str
    name: str
    beds: int
    residents: list[str] = Field(description="ids of the agents living there")
    free: int = Field(description="beds not taken")


class AgentError(Model):
    """Why an agent's step failed."""

    agent: str
    error: str
