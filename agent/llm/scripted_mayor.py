"""The offline scripted model's answer to `mayor_plan`: a mayor agent's tasks toward its goal,
chosen from the goal's words and the town in the context, with no network.

Goal words about money ("cash", "richer", "grow" ...) ask for a `ledger_total` task (a percent
in the goal sets it, else 120); words about staff ("hire", "staff", "jobs" ...) ask for an
`employed` task at the hiring building whose name or jobs share most words with the goal; words
about founding ("open", "build" ...) with a building type named in the goal ask for a
`building_exists` task. A goal with none of these gets the staffing task. Tasks that repeat one
of the mayor's open or completed tasks are left out; an expired one is posted again with a
larger reward. Rewards share half of the mayor's cash, at most 100 each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def word_set(text: str) -> frozenset[str]:
    """The lower-case words of `text`."""
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


MONEY = frozenset({"cash", "money", "richer", "wealth", "wealthier", "grow", "income", "prosper"})
STAFF = frozenset({"hire", "staff", "employ", "employed", "jobs", "workers", "work", "cooks", "clerks"})
FOUND = frozenset({"open", "build", "found", "erect", "construct"})
DEADLINE_TICKS = 400


def _maps(ctx: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    v = ctx.get(key)
    return [x for x in v if isinstance(x, Mapping)] if isinstance(v, list | tuple) else []


def _count(goal: str, default: int) -> int:
    small = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    for w in re.findall(r"[a-z]+|\d+", goal.lower()):
        if w.isdigit() and 0 < int(w) < 20:
            return int(w)
        if w in small:
            return small[w]
    return default


def _staffing(goal: str, ctx: Mapping[str, Any]) -> dict[str, Any] | None:
    gw = word_set(goal)
    hiring = [b for b in _maps(ctx, "buildings") if b.get("jobs")]
    if not hiring:
        return None

    def score(b: Mapping[str, Any]) -> tuple[int, int]:
        text = " ".join(str(b.get(k, "")) for k in ("id", "name", "kind", "template"))
        return len(gw & word_set(f"{text} {' '.join(map(str, b['jobs']))}")), -hiring.index(b)

    b = max(hiring, key=score)
    jobs = [str(j) for j in b["jobs"]]
    title = next((j for j in jobs if word_set(j) & gw or f"{j}s" in gw), jobs[0])
    n = _count(goal, 2)
    return {
        "title": f"Hire {n} {title}{'s' if n > 1 else ''} for {b.get('name')}",
        "description": f"{b.get('name')} needs {title}s; take the job and work a shift there.",
        "building": b.get("id"),
        "condition": {"type": "employed", "building": b.get("id"), "count": n, "title": title, "shifts": 1},
    }


def _candidates(goal: str, ctx: Mapping[str, Any]) -> list[dict[str, Any]]:
    gw = word_set(goal)
    out: list[dict[str, Any]] = []
    if gw & FOUND:
        for t in _maps(ctx, "templates"):
            if word_set(str(t.get("name", "")).replace("_", " ")) & gw:
                out.append(
                    {
                        "title": f"Open a new {str(t['name']).replace('_', ' ')}",
                        "description": f"Put up a {t['name']} in town.",
                        "condition": {
                            "type": "building_exists",
                            "template": t["name"],
                            "built_after_post": True,
                        },
                    }
                )
                break
    if gw & STAFF or not out:
        staff = _staffing(goal, ctx)
        if staff is not None:
            out.append(staff)
    if gw & MONEY:
        pct = re.search(r"(\d+)\s*%", goal)
        percent = 100 + int(pct.group(1)) if pct else 120
        out.append(
            {
                "title": f"Grow the town's total cash to {percent}% of today's",
                "description": "Work, earn and save: every resident's cash counts.",
                "condition": {"type": "ledger_total", "percent": percent},
            }
        )
    return out


def _key(c: Mapping[str, Any]) -> tuple[str, str]:
    cond = c.get("condition") or {}
    what = cond.get("building") or cond.get("template") or cond.get("percent") or ""
    return str(cond.get("type")), f"{what:g}" if isinstance(what, int | float) else str(what)


def mayor_plan(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The scripted answer to `mayor_plan` (see the module docstring)."""
    goal = str(ctx.get("town_goal") or "")
    mine = _maps(ctx, "my_tasks")
    taken = {_key(t) for t in mine if t.get("status") in ("open", "completed")}
    expired = {_key(t): int(t.get("reward", 0)) for t in mine if t.get("status") == "expired"}
    max_new = int(ctx.get("max_new", 3) or 0)
    new = [c for c in _candidates(goal, ctx) if _key(c) not in taken][: max(0, max_new)]
    if not new:
        return {"tasks": [], "reason": "my tasks already cover the goal"}
    cash = int(ctx.get("cash", 0) or 0)
    share = min(100, cash // 2 // len(new))
    for c in new:
        c["reward"] = (
            min(cash // len(new), max(share, expired[_key(c)] * 3 // 2)) if _key(c) in expired else share
        )
        c["deadline_ticks"] = DEADLINE_TICKS
    return {"tasks": new, "reason": f"toward the goal: {goal}"[:600]}
