"""Structured outputs, bounded answers and per-server slots, through the real SDK to the fake
server, which checks each `response_format` as the server it stands for would."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import openai
import pytest

from agent.interfaces import LLMError, LLMRequest, LLMResult, Message
from agent.llm.embedders import HashingEmbedder
from agent.llm.factory import ModelPool
from agent.llm.openai_client import OpenAIModel
from agent.llm.structured import wire_schema
from agent.llm.wrappers import CallRecord, LimitedModel, Limiter, MeteredModel
from agent.mind import AgentMind, parse_answer
from agent.prompts import PromptBook, default_book
from agent.prompts.schemas import ANSWER_MODELS, ActDecision, HourlySchedule, TaskDecision
from config.settings import ConfigError, LLMLimits, LLMProfile, Settings, load_settings
from tests.fakes.openai_server import FakeOpenAIServer, format_mode, strict_schema_errors
from tests.fakes.town_responder import town_responder
from tests.test_llm_transport import FakeClock
from tests.test_llm_wrappers import FakeModel


def ask(kind: str, *, max_tokens: int | None = None, text: str = "hi") -> LLMRequest:
    book = default_book()
    system, _ = book.render(kind, {})  # ends with the schema, which the town responder reads
    return LLMRequest(
        kind=kind,
        messages=(system, Message("user", text)),
        agent_id="a1",
        schema=book.schema(kind),
        max_tokens=max_tokens,
    )


# ------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("name", sorted(ANSWER_MODELS))
def test_every_answer_schema_is_accepted_in_strict_mode(name: str) -> None:
    model = ANSWER_MODELS[name]
    raw = model.model_json_schema()
    strict = wire_schema(raw, strict_subset=True)
    assert strict_schema_errors(strict) == []
    # the grammar form keeps bounds a strict server refuses, but is closed and complete too
    loose = wire_schema(raw, strict_subset=False)
    assert all("not permitted" in e for e in strict_schema_errors(loose))


def test_pydantic_schemas_as_they_are_break_strict_mode() -> None:
    """What the transform is for: optional fields, defaults and string bounds are refused."""
    for model in (ActDecision, TaskDecision, HourlySchedule):
        assert strict_schema_errors(model.model_json_schema()), model.__name__


def test_an_answer_following_the_wire_schema_parses() -> None:
    """Every property is required, of its own type: a full answer is a valid answer."""
    strict = wire_schema(ActDecision.model_json_schema(), strict_subset=True)
    raw = ActDecision.model_json_schema()
    assert set(raw["required"]) < set(raw["properties"])  # optional fields in the model ...
    assert strict["required"] == list(raw["properties"])  # ... all required on the wire
    assert strict["properties"]["target"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    full = {name: None for name in strict["required"]} | {"action": "chat", "target": "bob", "reason": "hi"}
    assert ActDecision.model_validate(full).target == "bob"
    nested = wire_schema(HourlySchedule.model_json_schema(), strict_subset=True)
    assert nested["$defs"]["HourSlot"]["additionalProperties"] is False


# ---------------------------------------------------------------- sent per mode


@pytest.mark.parametrize(
    ("mode", "sent"),
    [
        ("json_schema", "json_schema"),
        ("json_object_schema", "json_object_schema"),
        ("json_object", "json_object"),
        ("off", None),
    ],
)
async def test_the_schema_is_sent_as_the_profile_says(mode: str, sent: str | None) -> None:
    book = default_book()
    async with FakeOpenAIServer(responder=town_responder) as srv:
        model = OpenAIModel.from_profile(LLMProfile(**srv.profile(structured_output=mode)))
        try:
            await model.complete(ask("act"))
        finally:
            await model.aclose()
        (body,) = srv.chat_requests()
    assert format_mode(body) == sent
    fmt: Any = body.get("response_format")
    if sent == "json_schema":
        spec = fmt["json_schema"]
        assert spec["name"] == "ActDecision" and spec["strict"] is True
        assert spec["schema"] == wire_schema(book.schema("act"), strict_subset=True)
    elif sent == "json_object_schema":
        assert fmt["schema"] == wire_schema(book.schema("act"), strict_subset=False)
    elif sent == "json_object":
        assert fmt == {"type": "json_object"}
    else:
        assert "response_format" not in body


async def test_the_fake_refuses_a_schema_strict_mode_would_refuse() -> None:
    """The check the tests above rely on: the pydantic schema as it is gets HTTP 400."""
    raw = ActDecision.model_json_schema()
    fmt = {"type": "json_schema", "json_schema": {"name": "Act", "schema": raw, "strict": True}}
    async with FakeOpenAIServer() as srv:
        model = OpenAIModel("m", base_url=srv.base_url)
        with pytest.raises(openai.BadRequestError, match="'default' is not permitted"):
            await model._post({"model": "m", "messages": [], "response_format": fmt})
        await model.aclose()


@pytest.mark.parametrize(
    ("accepts", "settled"),
    [
        (("json_object_schema", "json_object"), "json_object_schema"),  # llama-cpp-python's server
        (("json_object",), "json_object"),  # a server with plain JSON mode only
    ],
)
async def test_auto_steps_down_to_what_the_server_takes(
    accepts: tuple[str, ...], settled: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeOpenAIServer(responder=town_responder, accepts=accepts) as srv:
        model = OpenAIModel.from_profile(LLMProfile(**srv.profile()))
        assert model.structured_output == "json_schema"
        try:
            first = await model.complete(ask("act"))
            second = await model.complete(ask("importance"))
        finally:
            await model.aclose()
        modes = [format_mode(b) for b in srv.chat_requests()]
    assert json.loads(first.text)["action"] and json.loads(second.text)["score"]
    assert modes[-2:] == [settled, settled] and modes[0] == "json_schema"
    assert len(modes) == 2 + (1 if settled == "json_object_schema" else 2)  # each refusal once
    assert model.structured_output == settled
    assert "refused response_format" in caplog.text


async def test_calls_refused_at_the_same_time_step_down_once() -> None:
    async with FakeOpenAIServer(
        responder=town_responder, accepts=("json_object_schema",), latency=0.05
    ) as srv:
        model = OpenAIModel.from_profile(LLMProfile(**srv.profile()))
        try:
            await asyncio.gather(*(model.complete(ask("act")) for _ in range(4)))
        finally:
            await model.aclose()
        modes = [format_mode(b) for b in srv.chat_requests()]
    assert model.structured_output == "json_object_schema"  # not on down to plain json_object
    assert modes.count("json_object") == 0 and modes.count("json_object_schema") == 4


async def test_a_fixed_mode_the_server_refuses_is_an_error_not_a_silent_downgrade() -> None:
    async with FakeOpenAIServer(responder=town_responder, accepts=("json_object",)) as srv:
        model = OpenAIModel.from_profile(LLMProfile(**srv.profile(structured_output="json_schema")))
        with pytest.raises(LLMError, match="HTTP 422") as err:
            await model.complete(ask("act"))
        await model.aclose()
    assert not err.value.retryable and len(srv.chat_requests()) == 1


def test_a_raw_newline_inside_a_string_parses() -> None:
    """llama-cpp-python's grammar lets a model write a control character inside a JSON string."""
    got = parse_answer('{"answers": ["At the cafe,\nI think.\t"]}', ANSWER_MODELS["QAAnswers"])
    assert got.model_dump()["answers"][0].split() == ["At", "the", "cafe,", "I", "think."]


# ----------------------------------------------------------------- bounded answers


def test_every_prompt_kind_bounds_its_answer() -> None:
    book = default_book()
    for kind in book.kinds():
        assert 8 <= book.max_tokens(kind) <= 600, kind
    assert book.max_tokens("importance") < book.max_tokens("qa_answer")


def test_a_kind_without_max_tokens_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prompts.toml"
    path.write_text('[kinds.chat]\nanswer = "Utterance"\nsystem = "s"\nuser = "u"\n')
    with pytest.raises(ValueError, match="kind 'chat' needs max_tokens"):
        PromptBook(path)


async def test_a_truncated_answer_is_a_counted_failure_with_its_tokens() -> None:
    async with FakeOpenAIServer() as srv:  # echoes: an answer as long as the question
        records: list[CallRecord] = []
        model = MeteredModel(OpenAIModel("m", base_url=srv.base_url), records.append)
        long = " ".join(f"word{i}" for i in range(50))
        with pytest.raises(LLMError, match="truncated at max_tokens=10") as err:
            await model.complete(ask("chat", max_tokens=10, text=long))
        await model.aclose()
        assert len(srv.chat_requests()) == 1  # not re-sent: it would be cut again
    assert not err.value.retryable
    (rec,) = records
    assert not rec.ok and rec.completion_tokens == 10 and rec.prompt_tokens > 50
    assert "truncated" in (rec.error or "")


async def test_the_mind_sends_each_kinds_bound_and_counts_a_cut_answer() -> None:
    book = default_book()

    def responder(body: dict[str, Any]) -> str:
        if body["max_tokens"] == book.max_tokens("importance"):
            return json.dumps({"score": 3, "note": " ".join(["very"] * 40)})  # rambles past the bound
        return town_responder(body)

    async with FakeOpenAIServer(responder=responder) as srv:
        model = OpenAIModel.from_profile(LLMProfile(**srv.profile()))
        failures: list[tuple[str, str]] = []
        mind = AgentMind(
            "a1",
            model,
            HashingEmbedder(),
            book,
            call_timeout_s=10,
            on_failure=lambda k, r: failures.append((k, r)),
        )
        ctx = {"name": "Ann", "text": "I ate bread"}
        line = await mind.say("chat", {**ctx, "partner": "Bob"})
        score = await mind.ask("importance", ctx, ANSWER_MODELS["Importance"])
        await model.aclose()
        sent = [b["max_tokens"] for b in srv.chat_requests()]
    assert line and score is None
    assert sent == [book.max_tokens("chat"), book.max_tokens("importance")]  # no re-ask of a cut answer
    assert failures and failures[0][0] == "importance" and "truncated" in failures[0][1]
    assert mind.calls == 2


# ----------------------------------------------------- per-server slots, timeouts


def pool_for(settings: Settings) -> ModelPool:
    return ModelPool(
        settings.profile,
        limits=settings.llm_limits,
        sink=None,
        scripted_factory=None,
        rng=random.Random(1),
    )


async def test_a_profile_concurrency_caps_its_server_across_profiles() -> None:
    async with FakeOpenAIServer(responder=town_responder, latency=0.05) as srv:
        one_slot = srv.profile(concurrency=1, structured_output="json_object")
        settings = Settings.model_validate(
            {
                "llm": one_slot,
                "llms": {"warm": {**one_slot, "temperature": 0.7}},  # the same server: its one slot too
                "llm_limits": {"concurrency": 64},
            }
        )
        pool = pool_for(settings)
        models = [pool.model(None), pool.model("warm")]
        assert models[0] is not models[1]
        await asyncio.gather(*(models[i % 2].complete(ask("act")) for i in range(6)))
        assert srv.served == 6 and srv.max_in_flight == 1
        await pool.aclose()

        free = Settings.model_validate(
            {"llm": srv.profile(structured_output="json_object")}
        )  # no concurrency: shared cap only
        pool = pool_for(free)
        await asyncio.gather(*(pool.model(None).complete(ask("act")) for _ in range(6)))
        assert srv.max_in_flight > 1
        await pool.aclose()


async def test_a_call_given_up_on_holds_the_server_before_the_next_is_sent() -> None:
    clock = FakeClock()
    slots = Limiter(1, clock=clock, sleep=clock.sleep)
    inner = FakeModel(LLMError("m: request timed out", retryable=True, timed_out=True), "ok", "ok")
    model = LimitedModel(inner, slots, hold_on_timeout_s=30)
    with pytest.raises(LLMError):
        await model.complete(ask("act"))
    sent_at: list[float] = []
    for _ in range(2):
        await model.complete(ask("act"))
        sent_at.append(clock.now)
    assert sent_at == [30.0, 30.0] and slots.holds == 1  # held once, then no more waiting
    # an error that is not a timeout holds nothing
    plain = LimitedModel(FakeModel(LLMError("HTTP 400")), slots, hold_on_timeout_s=30)
    with pytest.raises(LLMError):
        await plain.complete(ask("act"))
    assert slots.holds == 1


async def test_a_cancelled_call_also_holds_its_server() -> None:
    slots = Limiter(1)

    class Hanging(FakeModel):
        async def complete(self, request: LLMRequest) -> LLMResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    model = LimitedModel(Hanging(), slots, hold_on_timeout_s=30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await model.complete(ask("act"))
    assert slots.holds == 1 and slots.held_until > 0 and slots.in_flight == 0


def test_a_step_shorter_than_a_call_is_refused_at_start_up(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "llm": {"provider": "openai", "base_url": "http://127.0.0.1:1/v1", "timeout_s": 300},
                "llm_limits": {"step_timeout_s": 120},
            }
        )
    )
    with pytest.raises(
        ConfigError, match=r"step_timeout_s \(120s\) must be longer than llm.timeout_s \(300s\)"
    ):
        load_settings(cfg)


def test_one_server_has_one_slot_count() -> None:
    url = "http://127.0.0.1:1/v1"
    with pytest.raises(ValueError, match="llms.b.concurrency .2. differs from llm.concurrency .1."):
        Settings.model_validate(
            {
                "llm": {"provider": "openai", "base_url": url, "concurrency": 1},
                "llms": {"b": {"provider": "openai", "base_url": url, "concurrency": 2}},
            }
        )
    ok = Settings(llm=LLMProfile(provider="openai", base_url=url, concurrency=1), llm_limits=LLMLimits())
    assert ok.llm.concurrency == 1 and ok.llm.structured_output == "auto"
