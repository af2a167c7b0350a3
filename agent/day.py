"""The frame of an agent's day that needs no model: when it sleeps, how game minutes become
ticks, and which events are salient enough to interrupt what it is doing.

Every agent sleeps at home at night, one action from its bedtime to its waking time (no model
call all night). The times vary a little from agent to agent (a stable hash of its id), so the
town does not go to bed in one tick. Salience is judged by rules, never by a model call.
"""

from __future__ import annotations

import hashlib

BED_MINUTE = 22 * 60  # the earliest bedtime; each agent adds up to 45 minutes
WAKE_MINUTE = 6 * 60 + 30  # the earliest waking time; each agent adds up to 45 minutes
_SPREAD = 46
MIN_ACTION_MINUTES = 5
MAX_ACTION_MINUTES = 240
DEFAULT_VISIT_MINUTES = 30
TALK_COOLDOWN_MINUTES = 180  # two agents talk again only after this long


def _h(agent_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(agent_id.encode("utf-8"), digest_size=4).digest(), "big")


def bedtime(agent_id: str) -> int:
    """The agent's bedtime, in minutes of the day."""
    return BED_MINUTE + _h(agent_id) % _SPREAD


def wake_time(agent_id: str) -> int:
    """The agent's waking time, in minutes of the day."""
    return WAKE_MINUTE + (_h(agent_id) // _SPREAD) % _SPREAD


def is_night(agent_id: str, minute_of_day: int) -> bool:
    """Whether the agent should be asleep at this minute of the day."""
    return minute_of_day >= bedtime(agent_id) or minute_of_day < wake_time(agent_id)


def minutes_until_wake(agent_id: str, minute_of_day: int) -> int:
    """Game minutes from `minute_of_day` to the agent's next waking time."""
    wake = wake_time(agent_id)
    return (wake - minute_of_day) % 1440 or 1440


def ticks_for(minutes: int, tick_seconds: int) -> int:
    """Ticks that `minutes` game minutes last (at least one)."""
    return max(1, (minutes * 60 + tick_seconds - 1) // tick_seconds)


def clamp_minutes(minutes: int | None, default: int = DEFAULT_VISIT_MINUTES) -> int:
    """An action's duration kept within 5-240 game minutes (`default` when none was given)."""
    if minutes is None or minutes <= 0:
        minutes = default
    return max(MIN_ACTION_MINUTES, min(MAX_ACTION_MINUTES, minutes))


def may_talk_again(last_tick: int | None, now_tick: int, tick_seconds: int) -> bool:
    """Whether two agents that last talked at `last_tick` may start another conversation."""
    return last_tick is None or (now_tick - last_tick) * tick_seconds >= TALK_COOLDOWN_MINUTES * 60
