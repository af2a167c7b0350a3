"""`ScriptedModel`: an offline, deterministic stand-in for an LLM, for demos and tests.

It never reads the rendered messages: it answers from `request.kind` and `request.context` with
simple rules (word overlap between the agent's goal and what a building offers; stable blake2b
hashes of seed, agent id and tick to vary choices between agents). It is not intelligent; it only
gives every kind a sensible answer in the right JSON shape. A missing or malformed context key
yields a safe, valid answer, never an exception.

Context keys read, per kind (all optional):

- every kind: agent_id, tick, name, goal, cash
- qa_ask: buildings
- qa_answer: questions, buildings, nearby, memories
- qa_choose, daily_plan, hourly_schedule: buildings, home, job, day, minute_of_day (the agent's
  day, `scripted_day.day_slots`); hourly_schedule also hours (list of int)
- decompose: activity, building (id), minutes, buildings
- react: event
- act: building (a building_context mapping with equipment), purpose, minutes, nearby,
  news_for (names of people in sight who have not heard the agent's news: it talks to them)
- chat: partner, heard (the transcript so far), turn, activity, news (news not yet told this
  partner: passed on), memories, minute_of_day (see `scripted_day.chat_line`)
- reply_player: player_text, memories
- interview: question, memories (the memories sharing most words with the question are quoted)
- probe_judge: rubric, answer (the share of the rubric's words the answer holds, as 1-10)
- importance: text
- reflect: memories (list of str)
- impression: subject_name (or subject), previous, text
- experience: building_name (or building), purpose, outcome
- task_decide: tasks (id, title, description, building_id or building), buildings, job

A building is a mapping with id, name, kind, description, equipment (id, name, description,
operations, price, income, free). An unknown kind is answered with `{}`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.interfaces import LLMRequest, LLMResult, Usage
from agent.llm.scripted_day import chat_line, day_slots, slot_at, step_minutes
from agent.llm.scripted_mayor import mayor_plan
from agent.prompts.schemas import whole

_STOP = frozenset(
    "the and for with that this from into your you are was were have has had but not what which who "
    "how can will would should could about there their them then than they our out get got its more "
    "some want wants make made just like been being also very much many any all one two day".split()
)
_MONEY = frozenset("cash coin coins money pay give send transfer wallet gold loan lend donate".split())
_URGENT = frozenset(
    "urgent fire help task job hired fired closed emergency mayor invite invited party hurt sick".split()
)
_IMPORTANT = {
    9: frozenset("married died death fired hired promotion emergency fire love founded".split()),
    6: frozenset("job task mayor money cash bought earned paid argument friend company salary".split()),
    4: frozenset("chat talked met said asked plan work learned".split()),
}
_NEGATIVE = frozenset("fail failed failure could refused closed broke nothing unable denied".split())
_LOW_CASH = 20
_BYE = frozenset("bye goodbye farewell later".split())


_ALNUM_RUN = re.compile(r"[^\W_]+")  # runs of characters for which str.isalnum() is true


def words(text: str) -> list[str]:
    """Lower-case content words of `text` (letters and digits, stop words dropped)."""
    return [w for w in _ALNUM_RUN.findall(text.lower()) if len(w) > 2 and w not in _STOP]


@functools.lru_cache(maxsize=8192)
def word_set(text: str) -> frozenset[str]:
    """`words(text)` as a set, cached: goals and building descriptions recur in every call."""
    return frozenset(words(text))


def _str(ctx: Mapping[str, Any], key: str, default: str = "") -> str:
    value = ctx.get(key)
    if isinstance(value, str):
        return value.strip() or default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def _int(ctx: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = ctx.get(key)
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return default
    return default


def _maps(ctx: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = ctx.get(key)
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def _strs(ctx: Mapping[str, Any], key: str) -> list[str]:
    value = ctx.get(key)
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _building_text(b: Mapping[str, Any]) -> str:
    parts = [_str(b, "name"), _str(b, "kind"), _str(b, "description")]
    for e in _maps(b, "equipment"):
        parts += [_str(e, "name"), _str(e, "description"), " ".join(_strs(e, "operations"))]
    return " ".join(parts)


def _stable(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(parts).encode("utf-8"), digest_size=8).digest(), "big")


def _affordable_operation(e: Mapping[str, Any], cash: int) -> tuple[str, int]:
    """The first operation open to everyone that `cash` pays for, with its cost (equipment with
    per-operation prices); else the first operation at the equipment's price."""
    operations = _strs(e, "operations") or ["use"]
    prices = e.get("prices")
    if isinstance(prices, Mapping):
        for op in operations:
            p = prices.get(op)
            if isinstance(p, Mapping) and not p.get("staff_only") and _int(p, "cost") <= cash:
                return op, _int(p, "cost")
    return operations[0], _int(e, "price")


def _menu_order(menu: Mapping[str, Any], budget: int, roll: int) -> dict[str, int]:
    """One or two menu items, a quantity of each, within `budget` (empty when nothing fits)."""
    items = sorted((str(k), int(v)) for k, v in menu.items() if isinstance(v, int) and v > 0)
    order: dict[str, int] = {}
    for i in range(len(items)):
        name, price = items[(roll + i) % len(items)]
        if price <= budget:
            n = min(1 + (roll >> 3) % 2, budget // price)
            order[name] = n
            budget -= n * price
            if len(order) == 2:
                break
    return order


def _overlap(a: str, b: str) -> int:
    return len(word_set(a) & word_set(b))


class ScriptedModel:
    """An offline deterministic `LanguageModel` that answers from the request's kind and context."""

    name = "scripted"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._days: dict[tuple[Any, ...], list[Any]] = {}  # see `_slots`
        self._texts: dict[tuple[str, str], str] = {}  # see `_text_of`
        self._answers: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "qa_ask": self._qa_ask,
            "qa_answer": self._qa_answer,
            "qa_choose": self._qa_choose,
            "daily_plan": self._daily_plan,
            "hourly_schedule": self._hourly_schedule,
            "decompose": self._decompose,
            "react": self._react,
            "act": self._act,
            "chat": self._chat,
            "reply_player": self._reply_player,
            "interview": self._interview,
            "probe_judge": self._probe_judge,
            "importance": self._importance,
            "reflect": self._reflect,
            "impression": self._impression,
            "experience": self._experience,
            "task_decide": self._task_decide,
            "mayor_plan": mayor_plan,
        }

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The scripted JSON answer to `request`."""
        ctx = request.context if isinstance(request.context, Mapping) else {}
        answer = self._answers.get(request.kind)
        text = json.dumps(answer(ctx) if answer is not None else {}, ensure_ascii=False)
        prompt_chars = sum(len(m.content) for m in request.messages)
        return LLMResult(text=text, usage=Usage(prompt_chars // 4, len(text) // 4), model=self.name)

    async def aclose(self) -> None:
        """Nothing to close."""

    # ------------------------------------------------------------------ helpers

    def _hash(self, ctx: Mapping[str, Any], *parts: object) -> int:
        key = "|".join(str(p) for p in (self.seed, _str(ctx, "agent_id"), _int(ctx, "tick"), *parts))
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")

    def _ranked(self, ctx: Mapping[str, Any], text: str) -> list[Mapping[str, Any]]:
        """Buildings with an id, best fit to `text` first; ties broken by a stable hash."""
        found = [b for b in _maps(ctx, "buildings") if _str(b, "id")]
        return sorted(
            found, key=lambda b: (-_overlap(text, self._text_of(b)), self._hash(ctx, _str(b, "id")))
        )

    def _text_of(self, b: Mapping[str, Any], key: str = "") -> str:
        """`_building_text(b)`, kept by id and name (a building's or equipment's words do not
        change; at most 4,096 kept)."""
        k = (key or _str(b, "id"), _str(b, "name"))
        if not k[0]:
            return _building_text(b)
        text = self._texts.get(k)
        if text is None:
            if len(self._texts) >= 4096:
                self._texts.clear()
            text = self._texts[k] = _building_text(b)
        return text

    def _focus(self, ctx: Mapping[str, Any]) -> str:
        """The agent's goal, to end a sentence with (its own final full stop dropped, and a
        capital on its first word dropped: "Become a cook" reads "to become a cook")."""
        goal = _str(ctx, "goal").rstrip(" .") or "get by in town"
        first = goal.split(" ", 1)[0]
        if len(first) > 1 and first[0].isupper() and first[1:].islower():
            goal = first[0].lower() + goal[1:]
        return goal

    # ------------------------------------------------------------------ kinds

    def _qa_ask(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        goal = self._focus(ctx)
        return {
            "questions": [
                f"Which place in town helps me to {goal}?",
                f"What can I afford with {_int(ctx, 'cash')} coins?",
                "Who in town could help me?",
            ]
        }

    def _qa_answer(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        goal = self._focus(ctx)
        ranked = self._ranked(ctx, goal)
        best = _str(ranked[0], "name", "somewhere in town") if ranked else "nowhere I know of"
        people = [_str(a, "name") for a in _maps(ctx, "nearby") if _str(a, "name")]
        memories = _strs(ctx, "memories")
        facts = [
            f"{best} looks like the best place to {goal}.",
            f"I have {_int(ctx, 'cash')} coins.",
            f"I could ask {', '.join(people[:3])}." if people else "Nobody is around right now.",
        ]
        if memories:
            facts.append(f"I remember: {memories[0][:200]}")
        questions = _strs(ctx, "questions") or ["Where should I go?"]
        return {"answers": [facts[i % len(facts)] for i in range(min(len(questions), 5))]}

    def _slots(self, ctx: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        """The agent's day (`scripted_day.day_slots`) and the slot at the context's minute. A day
        depends only on the agent, the day, its home, job and goal and the town's buildings, so
        it is worked out once (kept in `_days`, at most 4,096 of them)."""
        goal, buildings = self._focus(ctx), _maps(ctx, "buildings")
        aid = _str(ctx, "agent_id")
        key = (aid, ctx.get("day"), _str(ctx, "home"), _str(ctx, "job"), goal) + tuple(
            _str(b, "id") for b in buildings
        )
        slots = self._days.get(key)
        if slots is None:
            if len(self._days) >= 4096:
                self._days.clear()

            def rank(text: str) -> list[Mapping[str, Any]]:  # best fit first; ties by a stable hash
                found = [b for b in buildings if _str(b, "id")]
                return sorted(
                    found, key=lambda b: (-_overlap(text, self._text_of(b)), _stable(aid, _str(b, "id")))
                )

            slots = self._days[key] = day_slots(ctx, buildings, rank, goal)
        return slot_at(slots, aid, _int(ctx, "minute_of_day", 480)), slots

    def _qa_choose(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        slot, _ = self._slots(ctx)
        if not slot.building:
            goal = self._focus(ctx)
            return {"building": _str(ctx, "building_id", "nowhere"), "purpose": f"think about how to {goal}"}
        minute = _int(ctx, "minute_of_day", 480)
        return {"building": slot.building, "purpose": slot.activity, "minutes": step_minutes(slot, minute)}

    def _daily_plan(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        _, slots = self._slots(ctx)
        plan = [f"{s.start // 60:02d}:{s.start % 60:02d} {s.activity} ({s.building})" for s in slots]
        return {"plan": (plan + ["go to bed"]) if plan else [f"work towards my goal: {self._focus(ctx)}"]}

    def _hourly_schedule(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        raw = ctx.get("hours")
        hours = (
            sorted({h for h in raw if isinstance(h, int) and 0 <= h <= 23}) if isinstance(raw, list) else []
        )
        if not hours:
            hours = list(range(max(0, min(23, _int(ctx, "minute_of_day") // 60)), 24))
        _, slots = self._slots(ctx)
        aid = _str(ctx, "agent_id")
        schedule = []
        for hour in hours:
            s = slot_at(slots, aid, hour * 60 + 30)
            schedule.append({"hour": hour, "activity": s.activity[:200], "building": s.building or "home"})
        return {"schedule": schedule}

    def _decompose(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        activity = _str(ctx, "activity", f"work towards my goal: {self._focus(ctx)}")
        ranked = self._ranked(ctx, activity)
        building = _str(ctx, "building") or (_str(ranked[0], "id") if ranked else "home")
        minutes = max(10, min(240, _int(ctx, "minutes", 60)))
        if activity == "sleep":
            return {"tasks": [{"task": "sleep", "minutes": minutes, "building": building}]}
        parts = (2, 3)[self._hash(ctx, "parts") % 2]
        first = minutes // parts + (self._hash(ctx, "split") % 11) - 5
        lengths = [first] + [(minutes - first) // (parts - 1)] * (parts - 1)
        words_ = ("start to", "keep going:", "finish up and")[: parts - 1] + ("then",)
        steps = [f"{w} {activity}" for w in words_[:parts]]
        return {
            "tasks": [
                {"task": s[:200], "minutes": max(5, n), "building": building}
                for s, n in zip(steps, lengths, strict=False)
            ]
        }

    def _react(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        hits = sorted(set(words(_str(ctx, "event"))) & _URGENT)
        if hits:
            return {"replan": True, "reason": f"this matters: {', '.join(hits)}"}
        return {"replan": False, "reason": "nothing that changes my plan"}

    def _act(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        cash = _int(ctx, "cash")
        building = ctx.get("building")
        equipment = _maps(building, "equipment") if isinstance(building, Mapping) else []
        nearby = [a for a in _maps(ctx, "nearby") if _str(a, "id")]
        roll = self._hash(ctx, "act")
        tell = [a for a in nearby if _str(a, "name") in _strs(ctx, "news_for")]
        if tell:  # news to pass on to someone here: go and tell them
            partner = tell[roll % len(tell)]
            return {"action": "chat", "target": _str(partner, "id"), "reason": "I have news for them"}
        sociable = any(w in _str(ctx, "purpose") for w in ("chat", "meet", "lunch", "relax"))
        if nearby and (roll % 3 != 1 if sociable else roll % 3 == 0):
            partner = nearby[(roll // 4) % len(nearby)]
            return {"action": "chat", "target": _str(partner, "id"), "reason": "say hello"}
        minutes = max(5, min(240, _int(ctx, "minutes", 30)))
        usable = [
            e for e in equipment if _str(e, "id") and _int(e, "price") <= cash and _int(e, "free", 1) > 0
        ]
        if usable:
            focus = _str(ctx, "purpose") + " " + self._focus(ctx)
            if cash < _LOW_CASH and any(_int(e, "income") > 0 for e in usable):
                usable = [e for e in usable if _int(e, "income") > 0]
            usable.sort(
                key=lambda e: (
                    -_overlap(focus, self._text_of({"equipment": [e]}, _str(e, "id"))),
                    -_int(e, "income"),
                    self._hash(ctx, _str(e, "id")),
                )
            )
            chosen = usable[0]
            operation, cost = _affordable_operation(chosen, cash)
            answer: dict[str, Any] = {
                "action": "use",
                "equipment": _str(chosen, "id"),
                "operation": operation,
                "minutes": minutes,
                "reason": f"{_str(chosen, 'name', 'it')} fits what I came for",
            }
            menu = chosen.get("menu")
            if isinstance(menu, Mapping) and menu:
                answer["order"] = _menu_order(menu, cash - cost, roll)
            return answer
        if nearby:
            return {"action": "chat", "target": _str(nearby[0], "id"), "reason": "nothing here I can use"}
        if _str(ctx, "building_id") == _str(ctx, "home"):
            return {"action": "wait", "minutes": minutes, "reason": "at home, taking it easy"}
        return {"action": "leave", "reason": "nothing here I can use"}

    def _chat(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        return chat_line(ctx, self.seed, _strs(ctx, "memories"), _strs(ctx, "news"))

    def _reply_player(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        name, goal = _str(ctx, "name", "a resident here"), self._focus(ctx)
        said = set(words(_str(ctx, "player_text")))
        if said & _BYE:
            return {
                "text": f"Goodbye! It was nice talking with you. I'm {name}, come by any time.",
                "end": True,
            }
        if said & _MONEY:
            text = f"I'm {name}, and my coins stay with me, thanks. I'd rather talk about how I {goal}."
        else:
            memories = _strs(ctx, "memories")
            lately = whole(memories[0], 160) if memories else ""
            text = f"Hello, I'm {name}. Right now I'm focused on this: {goal}." + (
                f" Lately: {lately}" if lately else ""
            )
        return {"text": text}

    def _interview(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        name = _str(ctx, "name", "a resident here")
        asked = word_set(_str(ctx, "question"))
        recalled = _strs(ctx, "memories")
        ranked = sorted(((len(asked & word_set(m)), -i, m) for i, m in enumerate(recalled)), reverse=True)
        quoted = [m[:160] for hits, _, m in ranked[:2] if hits > 0]
        if quoted:
            return {"text": f"I'm {name}. What I remember: " + " / ".join(quoted)}
        if recalled:  # nothing shares a word with the question: what memory brought up first
            return {
                "text": f"I'm {name}. Nothing comes to mind about that exactly. "
                f"The last thing I remember: {recalled[0][:160]}"
            }
        return {
            "text": f"I'm {name}. I don't remember anything about that; I'm busy trying to {self._focus(ctx)}."
        }

    def _probe_judge(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        wanted = word_set(_str(ctx, "rubric"))
        share = len(wanted & word_set(_str(ctx, "answer"))) / len(wanted) if wanted else 0.0
        return {"score": 1 + round(9 * share)}

    def _importance(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        found = set(words(_str(ctx, "text")))
        for score in sorted(_IMPORTANT, reverse=True):
            if found & _IMPORTANT[score]:
                return {"score": score}
        return {"score": 2}

    def _reflect(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        memories = _strs(ctx, "memories")
        counts = Counter(w for m in memories for w in set(words(m)))
        insights = [f"A lot of my days revolve around {w}." for w, _ in counts.most_common(3)]
        insights.append(f"Everything I do should help me {self._focus(ctx)}.")
        return {"insights": insights}

    def _impression(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        subject = _str(ctx, "subject_name", _str(ctx, "subject", "them"))
        text, previous = _str(ctx, "text"), _str(ctx, "previous")
        latest = f"Most recently: {text[:160]}" if text else "I know little about them yet."
        return {"impression": f"{previous[:200]} {latest}".strip() if previous else f"{subject}. {latest}"}

    def _experience(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        where = _str(ctx, "building_name", _str(ctx, "building", "somewhere"))
        purpose, outcome = _str(ctx, "purpose", "do something"), _str(ctx, "outcome", "it happened")
        success = not (set(words(outcome)) & _NEGATIVE)
        return {"summary": f"I went to {where} to {purpose[:150]}: {outcome[:200]}", "success": success}

    def _task_decide(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        known = {_str(b, "id"): b for b in _maps(ctx, "buildings")}
        focus = self._focus(ctx) + " " + _str(ctx, "job")
        candidates: list[tuple[int, int, int, str]] = []
        for t in _maps(ctx, "tasks"):
            task_id, where = _str(t, "id"), _str(t, "building_id") or _str(t, "building")
            if not task_id or (where and where not in known):
                continue
            about = " ".join((_str(t, "title"), _str(t, "description"), _building_text(known.get(where, {}))))
            candidates.append(
                (-_overlap(focus, about), -_int(t, "reward"), self._hash(ctx, task_id), task_id)
            )
        if not candidates:
            return {"take": None, "reason": "no task I can do"}
        best = min(candidates)
        if best[0] < 0 or self._hash(ctx, "task") % 2 == 0:
            return {"take": best[3], "reason": "it fits what I can do"}
        return {"take": None, "reason": "none of these fits my goal"}


__all__: Sequence[str] = ["ScriptedModel", "words"]
