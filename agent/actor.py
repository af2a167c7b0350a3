"""The actor: one agent's step, from perception to proposed actions.

A step reads the agent's perception (a frozen snapshot of the world), consults its plan and
memory plug-ins through its Mind, and returns `Action`s. It changes nothing in the world: the
world validates and applies the actions afterwards, one agent at a time in id order, so many
steps can think concurrently and the outcome does not depend on which finished first.

State machine (see `agent.state.ActorState`):
    inited/idle (no target)  -> plan           -> move      (world: moving)
    moving                   -> (world walks the path, no LLM call)
    idle at target           -> act            -> use | chat | wait | leave
    using                    -> (world counts the use down, no LLM call) -> idle at target
"""

from __future__ import annotations

from agent.interfaces import Action, Mind, Perception, PlanDecision
from agent.prompts.context import building_context, perception_context, persona_context
from agent.prompts.schemas import ActDecision, TaskDecision, Utterance
from agent.state import ActorState, AgentRecord

MAX_ACTS_PER_VISIT = 3


def wants_step(a: AgentRecord) -> bool:
    """Does this agent think this tick? Moving and busy agents don't, unless something happened."""
    if a.inbox:
        return True
    return a.state not in (ActorState.MOVING, ActorState.USING)


async def step(a: AgentRecord, mind: Mind, p: Perception) -> list[Action]:
    """One agent's thinking for one tick."""
    assert a.mem is not None and a.planner is not None
    mem, planner = a.mem, a.planner
    for ev in p.events:
        await mem.observe(mind, p, "chat" if " says: " in ev else "observation", ev)
    if p.events and a.state in (ActorState.MOVING, ActorState.USING):
        if await planner.react(mind, p, mem, p.events[-1]):
            return await _plan(a, mind, p)
        return []
    if a.state in (ActorState.MOVING, ActorState.USING):
        return []
    if a.target is not None and p.building_id == a.target:
        return await _act(a, mind, p)
    return await _plan(a, mind, p)


async def _plan(a: AgentRecord, mind: Mind, p: Perception) -> list[Action]:
    assert a.mem is not None and a.planner is not None
    actions: list[Action] = []
    open_tasks = [t for t in p.tasks if a.id not in t.holder_ids and t.mayor_id != a.id]
    if open_tasks and p.job is None:
        ctx = perception_context(p)
        ctx["tasks"] = [t for t in ctx["tasks"] if t["id"] in {o.id for o in open_tasks}]
        d = await mind.ask("task_decide", ctx, TaskDecision)
        if d is not None and d.take and any(t.id == d.take for t in open_tasks):
            task = next(t for t in open_tasks if t.id == d.take)
            actions.append(Action("take_task", task_id=task.id))
            if task.building_id:
                actions.append(
                    Action("move", building_id=task.building_id, purpose=f"work on the task: {task.title}")
                )
                return actions
    if p.job is not None and a.last_target != p.job and any(b.id == p.job for b in p.buildings):
        # an employee goes back to work between the errands its plan chooses
        return actions + [Action("move", building_id=p.job, purpose="work my shift")]
    decision: PlanDecision = await a.planner.plan(mind, p, a.mem)
    actions.append(Action("move", building_id=decision.building_id, purpose=decision.purpose))
    return actions


async def _act(a: AgentRecord, mind: Mind, p: Perception) -> list[Action]:
    assert a.mem is not None
    here = next((b for b in p.buildings if b.id == p.building_id), None)
    if here is None or a.acts_here >= MAX_ACTS_PER_VISIT:
        return await _leave(a, mind, p, "done here")
    memories = await a.mem.retrieve(mind, p, a.purpose or a.goal, k=5)
    ctx = perception_context(
        p, purpose=a.purpose, building=building_context(here), memories=[m.text for m in memories]
    )
    d = await mind.ask("act", ctx, ActDecision)
    if d is None:  # the model failed twice: the safe fallback is to finish the visit
        return await _leave(a, mind, p, "could not decide what to do")
    if d.action == "use" and d.equipment:
        return [
            Action(
                "use",
                equipment_id=d.equipment,
                operation=d.operation or "",
                purpose=a.purpose,
                items=tuple(d.order.items()),
            )
        ]
    if d.action == "chat" and d.target:
        partner = next((n for n in p.nearby if n.id == d.target), None)
        heard = [e for e in p.events if partner is not None and partner.name in e][-4:]
        line = await mind.ask(
            "chat",
            persona_context(
                p,
                partner=partner.name if partner else d.target,
                partner_id=d.target,
                memories=[m.text for m in memories],
                heard=heard,
            ),
            Utterance,
        )
        text = line.text if line is not None else f"Hello, {partner.name if partner else 'there'}!"
        return [Action("chat", target=d.target, text=text)]
    if d.action == "wait":
        return [Action("wait")]
    return await _leave(a, mind, p, d.reason or "finished")


async def _leave(a: AgentRecord, mind: Mind, p: Perception, outcome: str) -> list[Action]:
    assert a.mem is not None
    if a.target is not None:
        await a.mem.on_plan_finished(mind, p, PlanDecision(a.target, a.purpose), outcome)
    return [Action("leave", text=outcome)]
