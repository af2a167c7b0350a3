"""The library's plain paths beside our hand-written speed paths: the SDK's own httpx transport
instead of `agent/llm/http11.py` (setting `llm.transport: "httpx"`). The MySQL one
(`db_fast_literals: false`) is tested with the other persistence tests."""

from __future__ import annotations

from pathlib import Path

from agent.interfaces import LLMRequest, Message
from agent.llm.openai_client import OpenAIModel
from config.settings import LLMProfile
from server.app import run_town
from server.client import TownClient
from tests.conftest import ADMIN, make_settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.town_responder import town_responder


async def test_each_transport_setting_picks_its_path_and_answers() -> None:
    async with FakeOpenAIServer() as srv:
        for transport in ("streams", "httpx"):
            profile = LLMProfile.model_validate(srv.profile(transport=transport))
            model = OpenAIModel.from_profile(profile, connections=4)
            try:
                assert model.transport == transport
                got = await model.complete(LLMRequest(messages=(Message("user", "hello"),), kind="chat"))
                assert got.text and got.usage.prompt_tokens > 0
            finally:
                await model.aclose()
        assert len(srv.chat_requests()) == 2


async def test_town_ticks_over_the_sdks_httpx_transport(tmp_path: Path) -> None:
    async with FakeOpenAIServer(responder=town_responder) as srv:
        settings = make_settings(f"sqlite:///{tmp_path / 't.sqlite3'}", llm=srv.profile(transport="httpx"))
        async with run_town(settings) as r:
            c = await TownClient.connect(r.ws_url)
            await c.call("login", token=ADMIN)
            summaries = [await c.call("tick") for _ in range(3)]
            c.close()
    assert summaries[0]["llm_calls"] > 0
    assert all(s["failures"] == 0 for s in summaries), [s["errors"] for s in summaries]
    assert len(srv.chat_requests()) == sum(s["llm_calls"] for s in summaries)
