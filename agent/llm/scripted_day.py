"""The offline scripted model's day and talk: a plausible daily rhythm and varied chat lines,
all from the prompt's context, deterministic (stable hashes of seed, agent and time).

The rhythm, per agent (its offsets vary by a hash of its id): breakfast at home after waking,
work at its workplace (its job, else the building that fits its goal best) in the morning, lunch
at a food place at noon, work in the afternoon, leisure (a park, library or market, varying by
day) in the early evening, dinner and rest at home, bed. Chat lines are made from the context:
the partner, the time of day, what the speaker is doing, its goal, news it has not told this
partner yet, and what it remembers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.day import bedtime, is_night, wake_time

_LEISURE_KINDS = ("leisure", "culture", "shop")
_MAX_STEP = 120  # a qa visit lasts at most this long; the plan is asked again after it


def _h(*parts: object) -> int:
    key = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass(frozen=True, slots=True)
class Slot:
    """A part of the day: from `start` to `end` (minutes of the day), `activity` at `building`."""

    start: int
    end: int
    activity: str
    building: str


def _pick(items: Sequence[Mapping[str, Any]], key: int) -> Mapping[str, Any] | None:
    return items[key % len(items)] if items else None


def day_slots(
    ctx: Mapping[str, Any],
    buildings: Sequence[Mapping[str, Any]],
    rank: Callable[[str], list[Mapping[str, Any]]],
    goal: str,
) -> list[Slot]:
    """The agent's day as slots, from waking to bed (see the module docstring)."""
    aid, day = str(ctx.get("agent_id") or ""), ctx.get("day") or 1
    by_id = {str(b.get("id")): b for b in buildings if b.get("id")}
    homes = [b for b in buildings if b.get("kind") == "home"]
    home_id = str(ctx.get("home") or "") or (str(homes[0]["id"]) if homes else "")
    home_id = home_id if home_id in by_id else next(iter(by_id), "")
    job = str(ctx.get("job") or "")
    work_ranked = [b for b in rank(goal) if b.get("kind") != "home"]  # best fit first, stable ties
    work = job if job in by_id else (str(work_ranked[0]["id"]) if work_ranked else home_id)
    food = [b for b in buildings if b.get("kind") == "food" and b.get("id") != work]
    lunch = _pick(food, _h(aid, day, "lunch") % 3 // 2)  # mostly the first food place (the cafe)
    fun = [b for b in buildings if b.get("kind") in _LEISURE_KINDS and b.get("id") != work]
    leisure = _pick(fun, _h(aid, day, "leisure"))
    name = {i: str(b.get("name") or i) for i, b in by_id.items()}
    o = _h(aid, "offset") % 40
    wake, bed = wake_time(aid), bedtime(aid)
    slots = [Slot(wake, 480 + o, "cook and eat breakfast at home", home_id)]
    slots.append(Slot(480 + o, 720, f"work: {goal}", work))
    if lunch is not None:
        lid = str(lunch["id"])
        slots.append(Slot(720, 780, f"eat lunch at {name[lid]} and chat", lid))
    else:
        slots.append(Slot(720, 780, "eat lunch at home", home_id))
    slots.append(Slot(780, 1020 + o, f"work: {goal}", work))
    if leisure is not None:
        fid = str(leisure["id"])
        what = {
            "leisure": f"relax and meet people at {name[fid]}",
            "culture": f"read a book at {name[fid]}",
            "shop": f"buy groceries at {name[fid]}",
        }.get(str(leisure.get("kind")), f"spend some time at {name[fid]}")
        slots.append(Slot(1020 + o, 1140, what, fid))
    slots.append(Slot(1140, bed, "cook dinner and rest at home", home_id))
    return slots


def slot_at(slots: Sequence[Slot], aid: str, minute: int) -> Slot:
    """The slot at `minute` (the night is a sleep slot at home)."""
    home = slots[0].building if slots else ""
    if is_night(aid, minute) or not slots:
        return Slot(bedtime(aid), wake_time(aid), "sleep", home)
    for s in slots:
        if s.start <= minute < s.end:
            return s
    return slots[0] if minute < slots[0].start else slots[-1]


def step_minutes(slot: Slot, minute: int) -> int:
    """How long a visit that starts at `minute` lasts: to the slot's end, at most two hours."""
    return max(5, min(_MAX_STEP, slot.end - minute))


# ---------------------------------------------------------------- talk

_GREET = ("Hi", "Hello", "Hey", "Oh, hello", "Nice to see you")
_ACK = (
    "I see.",
    "Oh, really?",
    "That sounds nice.",
    "Ha, I know what you mean.",
    "Interesting.",
    "Good for you.",
    "Right.",
)
_BYE = (
    "Well, I should get going",
    "Nice talking to you",
    "See you around",
    "I'll let you get back to it",
    "Take care",
    "Talk soon",
)


def _part_of_day(minute: int) -> str:
    return "morning" if minute < 720 else "afternoon" if minute < 1080 else "evening"


def first_sentence(text: str, limit: int = 140) -> str:
    """The first whole sentence of `text` if it fits in `limit`, else ""."""
    text = " ".join(text.split())
    for end in (". ", "! ", "? "):
        i = text.find(end)
        if 0 < i < limit:
            return text[: i + 1]
    return text if len(text) <= limit and text.endswith((".", "!", "?")) else ""


def chat_line(
    ctx: Mapping[str, Any], seed: int, memories: Sequence[str], news: Sequence[str]
) -> dict[str, Any]:
    """One line of a conversation: an opener, a reply (perhaps news), or a goodbye."""
    aid, tick = str(ctx.get("agent_id") or ""), ctx.get("tick") or 0
    name, partner = str(ctx.get("name") or "a neighbour"), str(ctx.get("partner") or "there")
    goal = str(ctx.get("goal") or "get by in town").rstrip(" .")
    goal = goal[0].lower() + goal[1:] if goal else goal
    activity = str(ctx.get("activity") or "look around").rstrip(" .")
    raw_turn, raw_minute = ctx.get("turn"), ctx.get("minute_of_day")
    turn = raw_turn if isinstance(raw_turn, int) else 0
    minute = raw_minute if isinstance(raw_minute, int) else 600
    r = _h(seed, aid, tick, turn, "chat")
    pick: Callable[[Sequence[str]], str] = lambda xs: xs[r % len(xs)]  # noqa: E731
    if turn >= 3 and (r % 3 == 0 or turn >= 7):
        then = pick((f"I'm off to {activity}.", f"Back to {activity} for me.", "Enjoy the rest of your day."))
        return {"text": f"{pick(_BYE)}, {partner}. {then}", "end": True}
    if news and r % 4 != 3:
        item = news[0]
        opener = pick(
            (
                f"{partner}, did you hear?",
                f"Have you heard the news, {partner}?",
                f"Guess what I heard, {partner}.",
                f"News for you, {partner}!",
            )
        )
        return {"text": f"{opener} {item}", "news": item}
    remembered = [
        s
        for s in (first_sentence(m) for m in memories)
        if s and not s.startswith(("I talked with", "I went"))
    ]
    if turn == 0:
        hello = f"{pick(_GREET)}, {partner}! Good {_part_of_day(minute)}."
        topics = (
            f"I'm here to {activity}.",
            f"How is your {_part_of_day(minute)} going?",
            f"I've been trying to {goal}.",
            "What brings you here?",
        )
        return {"text": f"{hello} {topics[(r >> 8) % len(topics)]}"}
    ack = pick(_ACK)
    first = partner.split()[0]
    options = [
        f"These days I mostly {goal}, {first}.",
        f"Right now, {first}, I'm about to {activity}.",
        f"Any tips on how to {goal}, {first}?",
        f"What are you up to later, {first}?",
        f"Call on {name.split()[0]} if you ever need a hand, {first}.",
    ]
    options += [f"Something I remember, {first}: {m}" for m in remembered[:2]]
    heard = {line.split(": ", 1)[-1] for line in ctx.get("heard") or () if isinstance(line, str)}
    for i in range(len(options)):  # never the same line twice in one conversation
        text = f"{ack} {options[((r >> 8) + i) % len(options)]}"
        if text not in heard:
            break
    return {"text": text}
