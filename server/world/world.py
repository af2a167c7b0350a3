"""The World: the whole town in memory, the rules that change it, and what to persist.

Only the world changes state. Commands and the tick call its methods; each method validates
first and raises a `GameError` before touching anything, so a refused request changes nothing.
Changes are collected (dirty sets, pending ledger entries, new memories and events) and written
by `commit()` in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.interfaces import MemoryRecord, PluginRegistry
from agent.llm.wrappers import CallRecord
from agent.state import AgentRecord
from server.db.repository import Repository, Unstorable
from server.errors import GameError, InvalidTown, NotFound
from server.records import Changes, StoredTown
from server.world import placing, population
from server.world.clock import Clock
from server.world.economy import Ledger
from server.world.grid import Grid
from server.world.talk import Conversation
from server.world.talk import restore as restore_conversations
from server.world.tasks import TaskBoard
from server.world.things import Building, Equipment
from server.world.town import TILE_CHARS, AgentPreset, TownFileError, TownFiles

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Dirty:
    """What changed since the last commit."""

    agents: set[str] = field(default_factory=set)
    buildings: set[str] = field(default_factory=set)
    equipment: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> row
    extra: list[Changes] = field(default_factory=list)  # changes other modules add (tasks, jobs)


class World:
    """The town: map, buildings, equipment, agents, ledger, clock and seeded randomness."""

    def __init__(
        self,
        town: TownFiles,
        repo: Repository,
        plugins: PluginRegistry,
        *,
        seed: int = 42,
        tick_seconds: int = 10,
        max_agents: int = 2000,
        sight: int = 8,
        move_tiles: int = 4,
        llm_names: list[str] | None = None,
    ):
        self.town = town
        self.repo = repo
        self.plugins = plugins
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = Clock(tick_seconds=tick_seconds)
        self.max_agents = max_agents
        self.sight = sight
        self.move_tiles = move_tiles
        self.jobs: dict[str, str] = {}  # agent id -> workplace building id (mayor mode fills it)
        self.task_board = TaskBoard()  # mayor mode's tasks, jobs and companies
        self.llm_names = llm_names or ["default", "scripted"]
        self.grid = Grid.from_rows(town.map.tiles, TILE_CHARS)
        self.buildings: dict[str, Building] = {}
        self.equipment: dict[str, Equipment] = {}
        self.agents: dict[str, AgentRecord] = {}
        self.agent_ids: set[str] = set()  # every agent id ever given out: none is given twice
        self.conversations: dict[str, Conversation] = {}  # the open ones, by id
        self.talks = 0  # conversations started in this town (their ids' sequence; stored in meta)
        self.ledger = Ledger()
        self.lock = asyncio.Lock()  # held while the world changes and commits
        # held through one tick, from perceiving to its commit (`step.run_tick`), and by `reset`
        self.step_lock = asyncio.Lock()
        self.epoch = 0  # counts resets: a run of ticks stops when the town it ticks is gone
        self.dirty = Dirty()
        self.new_memories: list[MemoryRecord] = []
        # agents whose step in the running tick is under way (from its start to its commit): the
        # memories they make belong to that tick's transaction, not to a command committed meanwhile
        self.stepping: frozenset[str] = frozenset()
        self.stale = False  # a commit failed and so did the reload: memory holds unsaved changes
        self.commits = 0  # successful commits so far: what was read of the database is current
        self.reloads = 0  # reloads so far (a reset, a failed commit): what was read may be gone

    # ------------------------------------------------------------ lifecycle

    async def start(self, presets: list[AgentPreset], presets_file: str = "agent presets") -> None:
        """Restore the town from the database, or found it from the town files."""
        snap = await self.repo.load()
        if snap.meta.get("founded"):
            self._restore(snap)
            log.info(
                "town restored at tick %d (%d agents, %d buildings)",
                self.clock.tick,
                len(self.agents),
                len(self.buildings),
            )
            return
        self.found(presets, presets_file)
        self.dirty.meta.update(founded=True, seed=self.seed, town=self.town.map.name)
        await self.commit()
        log.info("new town founded: %d agents, %d buildings", len(self.agents), len(self.buildings))

    def found(self, presets: list[AgentPreset], presets_file: str = "agent presets") -> None:
        """Put up the town's buildings and preset agents in memory. A building that does not fit
        or a preset the world refuses raises TownFileError naming the file and the field."""
        for i, b in enumerate(self.town.map.buildings):
            try:
                placing.place_building(self, b.template, b.x, b.y, name=b.name, building_id=b.id)
            except GameError as e:
                raise TownFileError(f"{self.town.path}: field buildings.{i}: {e.message}") from None
        for i, p in enumerate(presets):
            if p.home is not None and p.home not in self.buildings:
                raise TownFileError(
                    f"{presets_file}: field agents.{i}.home: no building {p.home!r}; "
                    f"known: {sorted(self.buildings)}"
                )
            try:
                population.add_agent(
                    self,
                    p.name,
                    p.bio,
                    p.goal,
                    cash=p.cash,
                    sprite=p.sprite,
                    llm=p.llm,
                    plan=p.plan,
                    memory=p.memory,
                    at=self.buildings[p.home].entrance if p.home else None,
                    facts=p.facts,
                    home=p.home,
                )
            except GameError as e:
                raise TownFileError(f"{presets_file}: field agents.{i}: {e.message}") from None

    def _restore(self, snap: StoredTown) -> None:
        self.clock.tick = int(snap.meta.get("tick", 0))
        if "rng" in snap.meta:
            v, internal, g = snap.meta["rng"]
            self.rng.setstate((v, tuple(internal), g))
        for row in snap.buildings:
            tpl = self.town.templates.get(row["template"])
            if tpl is None:
                raise InvalidTown(
                    f"stored building {row['id']} uses template {row['template']!r}, which the town files no longer define"
                )
            b = Building(
                row["id"], tpl, row["name"], row["x"], row["y"], row["owner"], row["created_tick"], row["seq"]
            )
            placing.block(self, b)
            self.buildings[b.id] = b
        for row in snap.equipment:
            b = self.buildings[row["building_id"]]
            eq = Equipment(row["id"], b.id, self.town.equipment[row["spec"]], json.loads(row["users"]))
            b.equipment.append(eq)
            self.equipment[eq.id] = eq
        for acct, bal in snap.balances.items():
            self.ledger._balances[acct] = bal
        by_agent: dict[str, list[MemoryRecord]] = {}
        for m in snap.memories:
            by_agent.setdefault(m.agent_id, []).append(m)
        for row in snap.agents:
            a = AgentRecord.from_row(row)
            self._attach_plugins(a)
            assert a.mem is not None
            a.mem.load(by_agent.get(a.id, []))
            self.agents[a.id] = a
        self.jobs = {row["agent_id"]: row["building_id"] for row in snap.jobs}
        self.agent_ids = set(snap.agent_ids) | set(self.agents)
        restore_conversations(self, snap.conversations, snap.meta)
        self.task_board.restore(self, snap)

    def _attach_plugins(self, a: AgentRecord) -> None:
        a.planner = self.plugins.make_planner(a.plan)
        a.planner.load(a.plan_state)
        a.mem = self.plugins.make_memory(a.memory_module)

    # -------------------------------------------------------------- commits

    @contextlib.contextmanager
    def stepping_in(self, agent_ids: Iterable[str]) -> Iterator[None]:
        """Mark agents as stepping in the running tick, from their step's start to the tick's
        commit (see `collect`)."""
        self.stepping = frozenset(agent_ids)
        try:
            yield
        finally:
            self.stepping = frozenset()

    def collect(self, tick_row: dict[str, Any] | None = None) -> Changes:
        """Drain every pending change into one batch. A tick's commit (with its `tick_row`) takes
        every agent's new memories; a command's commit leaves those of the agents `stepping` in
        a running tick to that tick (a player's chat answered mid-tick must not store half a tick)."""
        d = self.dirty
        for a in self.agents.values():
            if a.mem is not None and (tick_row is not None or a.id not in self.stepping):
                self.new_memories.extend(a.mem.drain_new())
        ch = Changes(
            meta={**d.meta, "tick": self.clock.tick, "rng": self.rng.getstate()},
            agents=[self.agents[i].to_row() for i in sorted(d.agents) if i in self.agents],
            buildings=[
                self._building_row(self.buildings[i]) for i in sorted(d.buildings) if i in self.buildings
            ],
            equipment=[
                self._equipment_row(self.equipment[i]) for i in sorted(d.equipment) if i in self.equipment
            ],
            ledger=self.ledger.drain(),
            memories=self.new_memories,
            events=d.events,
            llm_calls=d.llm_calls,
            conversations=list(d.conversations.values()),
            tick_row=tick_row,
        )
        for extra in d.extra:
            ch.tasks.extend(extra.tasks)
            ch.jobs.extend(extra.jobs)
            ch.jobs_removed.extend(extra.jobs_removed)
            ch.agents_removed.extend(extra.agents_removed)
            ch.agent_ids.extend(extra.agent_ids)
        self.dirty = Dirty()
        self.new_memories = []
        return ch

    async def commit(self, tick_row: dict[str, Any] | None = None) -> None:
        """Write every pending change in one transaction. On failure the world reloads the
        last committed state, so memory and database never disagree."""
        ch = self.collect(tick_row)
        try:
            await self.repo.commit(ch)
            self.commits += 1
        except BaseException as e:
            if isinstance(e, Unstorable):  # the database refused a value: the client is told
                log.warning("commit refused (%s); reloading the town as of the last commit", e.message)
            else:
                log.exception("commit failed; reloading the town as of the last committed tick")
            try:
                await self.reload()
            except Exception:  # noqa: BLE001 - the database is still away; try again before the next command
                self.stale = True
                log.warning("reload failed too; the town reloads before the next command")
            raise

    async def refresh(self) -> None:
        """Reload if an earlier failed commit left memory ahead of the database (raises
        `Unavailable` while the database stays away)."""
        if self.stale:
            async with self.lock:
                if self.stale:
                    await self.reload()

    async def reload(self) -> None:
        """Drop the in-memory town and load it again from the database. Loads first, so a
        failed load (database still down) leaves the town in memory as it was."""
        snap = await self.repo.load()
        self.buildings.clear()
        self.equipment.clear()
        self.agents.clear()
        self.agent_ids = set()
        self.conversations.clear()
        self.ledger = Ledger()
        self.dirty = Dirty()
        self.new_memories = []
        self.grid = Grid.from_rows(self.town.map.tiles, TILE_CHARS)
        self.clock.tick = 0
        self.reloads += 1
        self._restore(snap)
        self.stale = False

    async def reset(
        self, town: TownFiles, presets: list[AgentPreset], presets_file: str, keep_meta: dict[str, Any]
    ) -> None:
        """Wipe everything stored and found the town anew from `town` and `presets`, keeping
        `keep_meta` (e.g. a generated admin token). The files are tried on a scratch town first: a
        mistake raises TownFileError and changes nothing. The tick in flight finishes (and commits
        to the old town) first; a run of ticks sees `epoch` change and stops."""
        World(
            town,
            self.repo,
            self.plugins,
            seed=self.seed,
            max_agents=self.max_agents,
            sight=self.sight,
            llm_names=self.llm_names,
        ).found(presets, presets_file)
        self.epoch += 1
        async with self.step_lock, self.lock:
            await self.repo.wipe()
            self.town = town
            self.rng.seed(self.seed)
            await self.reload()  # an empty database: an empty town at tick 0
            self.dirty.meta.update(keep_meta)
            await self.start(presets, presets_file)

    def record_failure(self, agent_id: str, error: str) -> None:
        """Count a failed step or refused action on the agent (if it still exists)."""
        a = self.agents.get(agent_id)
        if a is not None:
            a.failures += 1
            a.last_error = error
            self.dirty.agents.add(agent_id)

    def book_calls(self, calls: Iterable[CallRecord]) -> None:
        """Book metered LLM calls for the next commit, as rows of the llm_calls table at the
        current tick."""
        tick = self.clock.tick
        self.dirty.llm_calls.extend(
            {
                "tick": tick,
                "agent_id": c.agent_id,
                "kind": c.kind[:32],
                "model": c.model[:128],
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "latency_ms": c.latency_s * 1000,
                "ok": c.ok,
                "cached": c.cached,
                "cost_usd": c.cost_usd,
                "prefix_tokens": c.prefix_tokens,
            }
            for c in calls
        )

    @staticmethod
    def _building_row(b: Building) -> dict[str, Any]:
        return {
            "id": b.id,
            "template": b.template.name,
            "name": b.name,
            "x": b.x,
            "y": b.y,
            "owner": b.owner,
            "created_tick": b.created_tick,
            "seq": b.seq,
        }

    @staticmethod
    def _equipment_row(e: Equipment) -> dict[str, Any]:
        return {"id": e.id, "building_id": e.building_id, "spec": e.spec.name, "users": json.dumps(e.users)}

    def event(
        self,
        kind: str,
        text: str,
        agent_id: str | None = None,
        other_id: str | None = None,
        *,
        conversation: str | None = None,
    ) -> dict[str, Any]:
        """Record an event (chat line, use, hire...) for the events table and the next delta;
        a chat line names its `conversation`."""
        ev = {
            "tick": self.clock.tick,
            "kind": kind,
            "agent_id": agent_id,
            "other_id": other_id,
            "text": text,
            "conversation_id": conversation,
        }
        self.dirty.events.append(ev)
        return ev

    # ------------------------------------------------------------- agents and buildings

    def building_at(self, x: int, y: int) -> Building | None:
        """The building whose entrance is at (x, y)."""
        for b in self.buildings.values():
            if b.entrance == (x, y):
                return b
        return None

    def agent(self, agent_id: str) -> AgentRecord:
        a = self.agents.get(agent_id)
        if a is None:
            raise NotFound(f"no agent {agent_id!r}")
        return a

    # --------------------------------------------------------------- money

    def pay(self, src: str, dst: str, amount: int, reason: str) -> None:
        """A ledger transfer that keeps agents' cash fields in step."""
        self.ledger.transfer(self.clock.tick, src, dst, amount, reason)
        for acct in (src, dst):
            if acct.startswith("agent:"):
                aid = acct[6:]
                if aid in self.agents:
                    self.agents[aid].cash = self.ledger.balance(acct)
                    self.dirty.agents.add(aid)

    # ------------------------------------------------------------- queries

    def agents_near(self, a: AgentRecord, radius: int | None = None) -> list[tuple[int, AgentRecord]]:
        r = self.sight if radius is None else radius
        out = []
        for b in self.agents.values():
            if b.id != a.id:
                d = abs(b.x - a.x) + abs(b.y - a.y)
                if d <= r:
                    out.append((d, b))
        out.sort(key=lambda t: (t[0], t[1].id))
        return out

    def town_state(self) -> dict[str, Any]:
        """The whole town for a client: map, buildings, equipment, agents, clock."""
        return {
            "name": self.town.map.name,
            "width": self.grid.width,
            "height": self.grid.height,
            "tiles": self.town.map.tiles,
            "tick": self.clock.tick,
            "clock": str(self.clock),
            "buildings": [b.public() for b in self.buildings.values()],
            "agents": [a.public() for a in sorted(self.agents.values(), key=lambda a: a.id)],
            "templates": [
                {
                    "name": t.name,
                    "kind": t.kind,
                    "description": t.description,
                    "w": t.footprint.w,
                    "h": t.footprint.h,
                    "price": t.price,
                    "equipment": list(t.equipment),
                }
                for t in self.town.templates.values()
            ],
        }
