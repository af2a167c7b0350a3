"""A small town on a real language model: SmolLM2-135M-Instruct on llama-cpp-python's server
(`agent/llm/local.py`, the `local` extra), every call through the real `openai` SDK with the
answer's schema as a grammar and each kind's `max_tokens`, the ticks sent over a real websocket
to the real server (`run_town`, port 0).

The town: the first `AGENTS` preset agents of `config/agents.json` (Alice: qa plan, long-term
memory; Bob: daily plan, memory stream), `TICKS` ticks. Figures:

- `first_try_valid_share`: calls whose first answer parsed into its kind's model (read back from
  the record cache, which keeps every request and answer); target at least 0.95;
- `failures`: failed calls plus failed agent steps; target 0; `truncated`: answers cut at
  `max_tokens` (counted in `failures`);
- tokens per call (the server's counts), and from the server's own timings (its log, one entry
  per completion): seconds of prompt evaluation and of generation per call, and the share of
  prompt tokens it did not evaluate because the prefix was already in its cache;
- `wall_s_per_tick`, and `wall_s_per_game_hour` at that rate (ticks of `tick_seconds` game
  seconds: 360 a game hour; an extrapolation, as later ticks have walks without calls);
- `prefix_probe`: one real prompt of the run sent twice in a row: the server's prompt
  evaluation the first time and again (the second reuses the evaluated prefix).

`--quick` (the smoke run): the server starts on the packaged model and lists it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._common import ADMIN, ROOT, emit, main_async, scratch, settings

AGENTS = 2
TICKS = 3
TICK_SECONDS = 10
TARGET_VALID = 0.95

_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit")
_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_EVAL = re.compile(r"^\S*:?\s+eval time =\s*([\d.]+) ms /\s*(\d+) runs", re.M)
_TOTAL = re.compile(r"total time =\s*([\d.]+) ms")


def server_timings(log_text: str) -> list[dict[str, float]]:
    """One entry per completion in llama-cpp-python's verbose log: prefix tokens reused, prompt
    tokens evaluated and its ms, generated tokens and their ms, total ms."""
    out: list[dict[str, float]] = []
    cur: dict[str, float] = {}
    for line in log_text.splitlines():
        if m := _HIT.search(line):
            cur["reused"] = float(m.group(1))
        elif "full prompt already cached" in line:
            cur["reused"] = -1.0  # all of it; resolved below
        elif m := _PROMPT.search(line):
            cur["prompt_ms"], cur["prompt_tokens"] = float(m.group(1)), float(m.group(2))
        elif m := _EVAL.search(line):
            cur["eval_ms"], cur["eval_tokens"] = float(m.group(1)), float(m.group(2))
        elif m := _TOTAL.search(line):
            cur["total_ms"] = float(m.group(1))
            out.append({"reused": 0.0, "prompt_ms": 0.0, "prompt_tokens": 0.0, "eval_ms": 0.0, **cur})
            cur = {}
    return out


def _presets(tmp: Path, n: int) -> str:
    presets = json.loads((ROOT / "config" / "agents.json").read_text())
    path = tmp / "agents.json"
    path.write_text(json.dumps({"agents": presets["agents"][:n]}))
    return str(path)


def first_tries(cache_dir: Path) -> list[tuple[str, bool, dict[str, Any]]]:
    """(kind, valid, cache doc) of every first attempt in the record cache (a re-ask carries the
    bad answer and the error: more than two messages)."""
    from agent.mind import parse_answer
    from agent.prompts import default_book

    book = default_book()
    out = []
    for path in sorted(cache_dir.rglob("*.json")):
        doc = json.loads(path.read_text())
        if len(doc["messages"]) != 2:
            continue
        for entry in doc["entries"]:
            if entry is None:
                continue
            valid = "error" not in entry
            if valid:
                try:
                    parse_answer(entry["text"], book.answer_model(doc["kind"]))
                except ValueError:
                    valid = False
            out.append((doc["kind"], valid, doc))
    return out


async def _read(path: Path) -> str:
    return await asyncio.to_thread(path.read_text, errors="replace")


def _per_call(xs: Sequence[float], n: int) -> float:
    return round(sum(xs) / n, 3) if n else 0.0


async def _probe(base_url: str, doc: dict[str, Any], log_path: Path) -> dict[str, Any]:
    """Send one recorded prompt twice; the server's prompt evaluation each time."""
    from agent.interfaces import LLMRequest, Message
    from agent.llm.local import local_profile
    from agent.llm.openai_client import OpenAIModel
    from agent.prompts import default_book
    from config.settings import LLMProfile

    book = default_book()
    kind = doc["kind"]
    req = LLMRequest(
        kind=kind,
        messages=tuple(Message(m["role"], m["content"]) for m in doc["messages"]),
        schema=book.schema(kind),
        max_tokens=book.max_tokens(kind),
    )
    model = OpenAIModel.from_profile(LLMProfile(**local_profile(base_url)))
    runs = []
    try:
        for _ in range(2):
            before = len(server_timings(await _read(log_path)))
            t0 = time.perf_counter()
            result = await model.complete(req)
            wall = time.perf_counter() - t0
            await asyncio.sleep(0.2)  # the log line follows the answer
            timing = server_timings(await _read(log_path))[before:]
            t = timing[-1] if timing else {}
            runs.append(
                {
                    "wall_s": round(wall, 3),
                    "prompt_eval_s": round(t.get("prompt_ms", 0.0) / 1000, 3),
                    "prompt_tokens_evaluated": int(t.get("prompt_tokens", 0)),
                    "prefix_reused_tokens": int(t.get("reused", 0)),
                    "prompt_tokens": result.usage.prompt_tokens,
                }
            )
    finally:
        await model.aclose()
    return {"kind": kind, "first": runs[0], "repeat": runs[1]}


async def _quick(tmp: Path) -> None:
    """The smoke run: the server starts on the packaged model and lists it (a first completion
    costs the model's warm-up, 5 s on an idle machine and minutes on a loaded one: the
    `local_model` test makes real calls)."""
    from openai import AsyncOpenAI

    from agent.llm.local import MODEL_ALIAS, gguf_path, local_model_server

    t0 = time.perf_counter()
    async with local_model_server(log_path=tmp / "llama.log") as server:
        started = time.perf_counter() - t0
        client = AsyncOpenAI(base_url=server.base_url, api_key="sk-no-key-needed", max_retries=0)
        try:
            models = [m.id async for m in client.models.list()]
        finally:
            await client.close()
    emit(
        "real_model",
        {"quick": True, "model_file": gguf_path().name},
        {
            "server_start_s": round(started, 3),
            "models": models,
            "model_mb": round(gguf_path().stat().st_size / 1e6, 1),
        },
        f"the local server starts and lists {MODEL_ALIAS}",
        MODEL_ALIAS in models,
    )


async def _town(tmp: Path, agents: int, ticks: int) -> None:
    from agent.llm.local import LOCAL_LIMITS, local_model_server, local_profile
    from server.app import run_town
    from server.client import TownClient

    log_path = tmp / "llama.log"
    cache = tmp / "cache"
    walls: list[float] = []
    summaries: list[dict[str, Any]] = []
    async with local_model_server(log_path=log_path) as server:
        s = settings(
            tmp,
            agents,
            agents=_presets(tmp, agents),
            llm=local_profile(server.base_url),
            llm_limits={**LOCAL_LIMITS, "cache_dir": str(cache), "cache_mode": "record"},
            tick_seconds=TICK_SECONDS,
            move_tiles_per_tick=50,
        )
        async with run_town(s) as town:
            async with await TownClient.connect(town.ws_url) as c:
                await c.call("login", token=ADMIN)
                for _ in range(ticks):
                    t0 = time.perf_counter()
                    summaries.append(await c.call("tick", timeout=7200))
                    walls.append(time.perf_counter() - t0)
            rows = await town.services.world.repo.rows("llm_calls")
        timings = server_timings(await _read(log_path))
        tries = first_tries(cache)
        probe = await _probe(server.base_url, tries[0][2], log_path) if tries else {}

    n = len(rows)
    failed_calls = sum(1 for r in rows if not r["ok"])
    step_failures = sum(s["failures"] for s in summaries)
    truncated = sum(1 for s in summaries for e in s["errors"] if "truncated" in e["error"])
    valid_first = sum(1 for _, ok, _ in tries if ok)
    share = round(valid_first / len(tries), 3) if tries else 0.0
    reused = sum(max(0.0, t["reused"]) for t in timings)
    evaluated = sum(t["prompt_tokens"] for t in timings)
    by_kind: dict[str, list[int]] = {}
    for kind, ok, _ in tries:
        by_kind.setdefault(kind, [0, 0])[0] += 1
        by_kind[kind][1] += ok
    mean_tick = sum(walls) / len(walls)
    figures = {
        "calls": n,
        "first_tries": len(tries),
        "first_try_valid_share": share,
        "first_try_by_kind": {k: f"{v[1]}/{v[0]}" for k, v in sorted(by_kind.items())},
        "failures": failed_calls + step_failures,
        "failed_calls": failed_calls,
        "failed_steps": step_failures,
        "truncated": truncated,
        "prompt_tokens_per_call": _per_call([r["prompt_tokens"] for r in rows], n),
        "completion_tokens_per_call": _per_call([r["completion_tokens"] for r in rows], n),
        "server_completions": len(timings),
        "prompt_eval_s_per_call": _per_call([t["prompt_ms"] / 1000 for t in timings], len(timings)),
        "generation_s_per_call": _per_call([t["eval_ms"] / 1000 for t in timings], len(timings)),
        "server_s_per_call": _per_call([t["total_ms"] / 1000 for t in timings], len(timings)),
        "prompt_eval_tokens_per_s": round(
            evaluated / max(1e-9, sum(t["prompt_ms"] for t in timings) / 1000), 1
        ),
        "prefix_reused_share": round(reused / max(1.0, reused + evaluated), 3),
        "wall_s_per_tick": round(mean_tick, 3),
        "wall_s_ticks": [round(w, 1) for w in walls],
        "llm_calls_per_tick": [s["llm_calls"] for s in summaries],
        "wall_s_per_game_hour": round(mean_tick * 3600 / TICK_SECONDS, 1),
        "prefix_probe": probe,
    }
    emit(
        "real_model",
        {
            "agents": agents,
            "ticks": ticks,
            "model": "SmolLM2-135M-Instruct Q4_1",
            "tick_seconds": TICK_SECONDS,
        },
        figures,
        f"first-try valid share >= {TARGET_VALID}, failures 0",
        share >= TARGET_VALID and figures["failures"] == 0,
        notes="seconds per call from the server's own timings; per game hour extrapolated from these ticks",
    )


async def run(quick: bool) -> None:
    from agent.llm.local import server_installed

    if not server_installed():
        emit(
            "real_model",
            {"quick": quick},
            {"installed": False},
            "the local extra is installed (pip install -e '.[local]')",
            False,
        )
        return
    with scratch() as tmp:
        if quick:
            await _quick(tmp)
        else:
            await _town(tmp, AGENTS, TICKS)


def main(argv: Sequence[str] | None = None) -> None:
    main_async(run, argv, __doc__ or "")


if __name__ == "__main__":
    main()
