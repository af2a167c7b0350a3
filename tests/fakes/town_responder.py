"""A responder for the fake OpenAI server that answers our prompts validly over real HTTP.

The HTTP request carries only messages, so it reads the answer schema's title from the system
message (every prompt appends its schema) and the ids listed in the user message, and returns a
small valid answer. Deterministic: the same request gets the same answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

_IDS = re.compile(r'"id":\s*"([^"]+)"')


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
    place = ids[0] if ids else "cafe"
    answers: dict[str, Any] = {
        "QAQuestions": {"questions": ["Where can I make progress on my goal?"]},
        "QAAnswers": {"answers": ["At the place that fits my goal best."]},
        "QAChoice": {"building": place, "purpose": "make progress on my goal"},
        "DailyPlan": {"plan": ["wake up", "work", "rest"]},
        "HourlySchedule": {
            "schedule": [{"hour": h, "activity": "work", "building": place} for h in range(0, 24, 6)]
        },
        "Decomposition": {"tasks": [{"task": "get going", "minutes": 20, "building": place}]},
        "Reaction": {"replan": False, "reason": "carry on"},
        "ActDecision": {"action": "leave", "reason": "done"},
        "Utterance": {"text": "Hello there, neighbour."},
        "Importance": {"score": 4},
        "Reflection": {"insights": ["I keep busy."]},
        "ImpressionAnswer": {"impression": "Seems friendly."},
        "ExperienceAnswer": {"summary": "It went fine.", "success": True},
        "TaskDecision": {"take": None, "reason": "busy"},
    }
    return json.dumps(answers.get(title, {}))
