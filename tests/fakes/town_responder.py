"""A responder for the fake OpenAI server that answers our prompts validly over real HTTP.

The HTTP request carries only messages, so it reads the answer schema's title from the system
message (every prompt appends its schema), the town's places listed there (it picks one by the
hour of the prompt's clock) and the ids in the user message (a building's equipment, to use the
first), and returns a small valid answer. Deterministic: the same request gets the same answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

_IDS = re.compile(r'"id":\s*"([^"]+)"')
_PLACES = re.compile(r"^- ([\w-]+): ", re.M)  # the town's places in the prompts' stable prefix
_HOUR = re.compile(r"Now: Day \d+ (\d\d):")


def _title(system: str) -> str:
    start = system.rfind('{"')
    while start >= 0:
        try:
            return str(json.loads(system[start:]).get("title", ""))
        except json.JSONDecodeError:
            start = system.rfind('{"', 0, start)
    return ""


def town_responder(body: dict[str, Any]) -> str:
    """A valid JSON answer for whichever answer model the prompt asks for."""
    msgs = body.get("messages", [])
    system = next((m["content"] for m in msgs if m.get("role") == "system"), "")
    user = "\n".join(m["content"] for m in msgs if m.get("role") == "user")
    title = _title(system)
    ids = _IDS.findall(user)
    places = _PLACES.findall(system)
    hour = _HOUR.search(user)
    if places and hour:  # a different place each hour of the day
        place = places[int(hour.group(1)) % len(places)]
    else:
        place = ids[0] if ids else "cafe"
    lines = user.split("The conversation so far:", 1)[-1].count("\n- ")
    answers: dict[str, Any] = {
        "QAQuestions": {"questions": ["Where can I make progress on my goal?"]},
        "QAAnswers": {"answers": ["At the place that fits my goal best."]},
        "QAChoice": {"building": place, "purpose": "make progress on my goal", "minutes": 60},
        "DailyPlan": {"plan": ["wake up", "work", "rest"]},
        "HourlySchedule": {
            "schedule": [{"hour": h, "activity": "work", "building": place} for h in range(0, 24, 6)]
        },
        "Decomposition": {"tasks": [{"task": "get going", "minutes": 30, "building": place}]},
        "Reaction": {"replan": False, "reason": "carry on"},
        # the first equipment of the building the act prompt shows (its ids follow the building's)
        "ActDecision": (
            {"action": "use", "equipment": ids[1], "minutes": 30, "reason": "here for it"}
            if len(ids) > 1
            else {"action": "leave", "reason": "done"}
        ),
        "Utterance": {"text": f"Hello there, neighbour. That makes {lines + 1} lines.", "end": lines >= 4},
        "Importance": {"score": 4},
        "Reflection": {"insights": ["I keep busy."]},
        "ImpressionAnswer": {"impression": "Seems friendly."},
        "ExperienceAnswer": {"summary": "It went fine.", "success": True},
        "TaskDecision": {"take": None, "reason": "busy"},
    }
    return json.dumps(answers.get(title, {}))
