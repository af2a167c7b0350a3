"""The actor: one agent's step, from perception to proposed actions.

A step reads the agent's perception (a frozen snapshot of the world), consults its plan and
memory plug-ins through its Mind, and returns `Action`s. It changes nothing in the world: the
world validates and applies the actions afterwards, one agent at a time in id order, so many
steps can think concurrently and the outcome does not depend on which finished first.

The world asks an agent to step only when it has something to decide (see
`server.world.day.needs_step`): its timed action is over, it is its turn in a conversation, or
something salient happened (a task offered, a known person arriving). So:
    night, not at home        -> move home                      (no model call)
    night, at home            -> sleep until morning            (no model call)
    conversation, my turn     -> say a line (chat)              (one call)
    no target                 -> plan (the plan module)         -> move
    moving                    -> (the world walks the path, no call)
    at target, step not done  -> act                            -> use | chat | wait | leave
    using / waiting           -> (no call until the action ends)
    at target, step done      -> leave (the memory stores the experience)
"""

from __future__ import annotations

from agent import day
from agent.interfaces import Action, AgentBrief, Mind, Perception, PlanDecision
from agent.prompts.context import building_context, perception_context, persona_context
from agent.prompts.schemas import ActDecision, TaskDecision, Utterance
from agent.state import ActorState, AgentRecord

MAX_ACTS_PER_VISIT = 3
ARRIVED = " arrived at "  # the marker of an arrival event in an agent's inbox


async def step(a: AgentRecord, mind: Mind, p: Perception) -> list[Action]:
    """One agent's thinking for one tick."""
    assert a.mem is not None and a.planner is not None
    for ev in p.events:  # what it heard or saw since its last step (a known person arriving)
        await a.mem.observe(mind, p, "observation", ev)
    if p.conversation is not None:
        if p.conversation.my_turn:
            return await _say(a, mind, p)
        return []
    if day.is_night(p.agent_id, p.minute_of_day) and not p.busy:
        return _night(a, p)
    arrivals = [e for e in p.events if ARRIVED in e]
    if p.busy or a.state is ActorState.MOVING:
        # something salient interrupted a timed action or a walk: greet a known person who
        # arrived; a task offered is considered; otherwise the action goes on
        actions = await _consider_tasks(a, mind, p, fresh_only=True)
        if actions:
            return actions
        if arrivals:
            return await _greet(a, mind, p, arrivals)
        return []
    if a.target is not None and p.building_id == a.target:
        return await _act(a, mind, p)
    return await _plan(a, mind, p)


def _night(a: AgentRecord, p: Perception) -> list[Action]:
    """Home to bed, or to sleep until morning: rules, no model call."""
    if p.home is None or p.building_id == p.home or not any(b.id == p.home for b in p.buildings):
        return [Action("sleep", minutes=day.minutes_until_wake(p.agent_id, p.minute_of_day))]
    if a.state is ActorState.MOVING and a.target == p.home:
        return []
    return [Action("move", building_id=p.home, purpose="go home to sleep", minutes=1)]


def talkable(a: AgentRecord, p: Perception) -> list[AgentBrief]:
    """People in sight the agent may start a conversation with (awake, free, not talked with
    lately)."""
    return [
        n
        for n in p.nearby
        if n.state not in (ActorState.SLEEPING.value, "talking")
        and day.may_talk_again(a.acquaintances.get(n.id), p.tick, p.tick_seconds)
    ]


async def _consider_tasks(a: AgentRecord, mind: Mind, p: Perception, *, fresh_only: bool) -> list[Action]:
    """Open tasks (only those it has not considered yet, when `fresh_only`: a busy agent is
    interrupted once per task offered): take one or none (one call)."""
    fresh = [
        t
        for t in p.tasks
        if a.id not in t.holder_ids and t.mayor_id != a.id and not (fresh_only and t.id in a.seen_tasks)
    ]
    if not fresh or p.job is not None:
        return []
    ctx = perception_context(p)
    ctx["tasks"] = [t for t in ctx["tasks"] if t["id"] in {o.id for o in fresh}]
    seen = Action("seen_tasks", text=" ".join(t.id for t in fresh))
    d = await mind.ask("task_decide", ctx, TaskDecision)
    if d is None or not d.take or not any(t.id == d.take for t in fresh):
        return [seen]
    task = next(t for t in fresh if t.id == d.take)
    actions = [seen, Action("take_task", task_id=task.id)]
    if task.building_id:
        actions.append(
            Action(
                "move", building_id=task.building_id, purpose=f"work on the task: {task.title}", minutes=60
            )
        )
    return actions


async def _greet(a: AgentRecord, mind: Mind, p: Perception, arrivals: list[str]) -> list[Action]:
    """A known person arrived where the agent is busy: start a conversation with them."""
    free = {n.name: n for n in talkable(a, p)}
    for event in arrivals:
        name = event.split(ARRIVED, 1)[0]
        if name in free:
            return await _open(a, mind, p, free[name])
    return []


async def _plan(a: AgentRecord, mind: Mind, p: Perception) -> list[Action]:
    assert a.mem is not None and a.planner is not None
    actions = await _consider_tasks(a, mind, p, fresh_only=False)  # each plan looks at the board
    if any(x.kind == "move" for x in actions):
        return actions
    if (
        p.job is not None
        and a.last_target != p.job
        and any(b.id == p.job for b in p.buildings)
        and 8 * 60 <= p.minute_of_day < 17 * 60
    ):
        # an employee goes back to work between the errands its plan chooses, in working hours
        return actions + [Action("move", building_id=p.job, purpose="work my shift", minutes=120)]
    decision: PlanDecision = await a.planner.plan(mind, p, a.mem)
    actions.append(
        Action(
            "move",
            building_id=decision.building_id,
            purpose=decision.purpose,
            minutes=day.clamp_minutes(decision.minutes),
        )
    )
    return actions


async def _act(a: AgentRecord, mind: Mind, p: Perception) -> list[Action]:
    assert a.mem is not None
    here = next((b for b in p.buildings if b.id == p.building_id), None)
    if here is None or a.visit_minutes <= 0 or a.acts_here >= MAX_ACTS_PER_VISIT:
        return await _leave(a, mind, p, "done here")
    memories = await a.mem.retrieve(mind, p, a.purpose or a.goal, k=5)
    people = talkable(a, p)
    ctx = perception_context(
        p,
        purpose=a.purpose,
        minutes=a.visit_minutes,
        building=building_context(here),
        memories=[m.text for m in memories],
    )
    ctx["nearby"] = [x for x in ctx["nearby"] if x["id"] in {n.id for n in people}]
    # people in sight who have not heard the news it knows: a reason to talk to them
    ctx["news_for"] = [
        n.name for n in people if any(item not in a.told.get(n.id, ()) for item in p.news)
    ] or None
    d = await mind.ask("act", ctx, ActDecision)
    if d is None:  # the model failed twice: the safe fallback is to finish the visit
        return await _leave(a, mind, p, "could not decide what to do")
    minutes = day.clamp_minutes(d.minutes, a.visit_minutes)
    if d.action == "use" and d.equipment:
        return [
            Action(
                "use",
                equipment_id=d.equipment,
                operation=d.operation or "",
                purpose=a.purpose,
                minutes=minutes,
                items=tuple(d.order.items()),
            )
        ]
    if d.action == "chat" and d.target:
        partner = next((n for n in people if n.id == d.target), None)
        if partner is not None:
            return await _open(a, mind, p, partner)
        return [Action("wait", minutes=min(minutes, 15))]
    if d.action == "wait":
        return [Action("wait", minutes=min(minutes, 30))]
    return await _leave(a, mind, p, d.reason or "finished")


def _chat_context(a: AgentRecord, p: Perception, partner: str, partner_id: str, memories: list[str]) -> dict:
    told = set(a.told.get(partner_id, ()))
    return persona_context(
        p,
        partner=partner,
        partner_id=partner_id,
        memories=memories,
        activity=p.activity or a.purpose or "nothing in particular",
        news=[n for n in p.news if n not in told],
        heard=list(p.conversation.lines) if p.conversation is not None else [],
        turn=len(p.conversation.lines) if p.conversation is not None else 0,
        max_turns=p.conversation.max_turns if p.conversation is not None else 10,
    )


async def _open(a: AgentRecord, mind: Mind, p: Perception, partner: AgentBrief) -> list[Action]:
    """Start a conversation with `partner`: the first line (one call)."""
    assert a.mem is not None
    memories = await a.mem.retrieve(mind, p, f"{partner.name} {a.goal}", k=4)
    ctx = _chat_context(a, p, partner.name, partner.id, [m.text for m in memories])
    line = await mind.ask("chat", ctx, Utterance)
    text = line.text if line is not None else f"Hello, {partner.name}!"
    return [Action("chat", target=partner.id, text=text, news=line.news if line is not None else None)]


async def _say(a: AgentRecord, mind: Mind, p: Perception) -> list[Action]:
    """My turn in the open conversation: one line, perhaps a goodbye (one call)."""
    assert a.mem is not None and p.conversation is not None
    c = p.conversation
    memories = await a.mem.retrieve(mind, p, f"{c.partner_name} {c.lines[-1] if c.lines else ''}", k=4)
    ctx = _chat_context(a, p, c.partner_name, c.partner_id, [m.text for m in memories])
    line = await mind.ask("chat", ctx, Utterance)
    if line is None:
        return [Action("say", text=f"Sorry, {c.partner_name}, I have to go.", end=True)]
    return [Action("say", text=line.text, end=line.end, news=line.news)]


async def _leave(a: AgentRecord, mind: Mind, p: Perception, outcome: str) -> list[Action]:
    assert a.mem is not None
    if a.target is not None:
        await a.mem.on_plan_finished(mind, p, PlanDecision(a.target, a.purpose), outcome)
    return [Action("leave", text=outcome)]
