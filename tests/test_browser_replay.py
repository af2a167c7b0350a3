"""The browser's replay view against the real server: pick a run, jump to a tick or a game time,
play at 32x, pause, inspect an agent as it was. Every wait is on page state (`window.__replay`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from server.app import Running
from server.client import TownClient
from server.runs.replay import fields_of
from tests.browser_helpers import Console, town_page

pytestmark = pytest.mark.browser

WAIT_MS = 15_000


@pytest.fixture
async def page(town: Running) -> AsyncIterator[tuple[Page, Console]]:
    async with town_page(town.url, WAIT_MS) as opened:
        yield opened


async def until(p: Page, js: str, arg: object = None) -> None:
    await p.wait_for_function(
        f"(arg) => {{ const r = window.__replay; return !!r && ({js}); }}", arg=arg, timeout=WAIT_MS
    )


def shown(agents: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {a["id"]: (a["x"], a["y"], a["state"], a.get("label"), a["cash"]) for a in agents}


async def test_replay_view_scrubs_plays_and_inspects(
    page: tuple[Page, Console], town: Running, admin: TownClient
) -> None:
    p, console = page
    w = town.services.world
    seen: dict[int, dict[str, tuple[Any, ...]]] = {}
    for i in range(35):
        if i == 30:
            await admin.call("fork_run", name="alt")
        await admin.call("tick")
        seen[w.clock.tick] = shown([fields_of(a) for a in w.agents.values()])

    await p.locator("#btn-replay").click()
    await until(p, "r.open && r.loads >= 1 && r.run === 'main'")
    assert await p.evaluate("[window.__replay.first, window.__replay.last, window.__replay.tick]") == [
        1,
        35,
        35,
    ]
    assert shown(await p.evaluate("window.__replay.agents()")) == seen[35]

    await p.locator("#replay-jump").fill("10")
    await p.locator("#replay-jump").press("Enter")
    await until(p, "r.tick === 10")
    assert shown(await p.evaluate("window.__replay.agents()")) == seen[10]
    await expect(p.locator("#replay-where")).to_contain_text("tick 10 / 35")

    await p.locator("#replay-jump").fill("Day 1 08:02")  # 10 game seconds a tick: tick 12
    await p.locator("#replay-jump").press("Enter")
    await until(p, "r.tick === 12")

    await p.locator("#replay-speed").select_option("32")
    await p.locator("#replay-play").click()
    await until(p, "r.playing && r.tick >= 20")
    await p.locator("#replay-play").click()
    await until(p, "!r.playing")
    tick = await p.evaluate("window.__replay.tick")
    assert shown(await p.evaluate("window.__replay.agents()")) == seen[tick]

    aid = sorted(seen[tick])[0]
    await p.locator(f"#replay-agents li[data-id='{aid}'] button").click()
    await until(p, "r.selected === arg", aid)
    x, y = seen[tick][aid][:2]
    await expect(p.locator("#replay-inspector")).to_contain_text(f"at tick {tick}")
    await expect(p.locator("#replay-inspector")).to_contain_text(f"({x}, {y})")

    await p.locator("#replay-run").select_option("alt")
    await until(p, "r.run === 'alt' && r.last === 30 && r.tick === 30")
    assert shown(await p.evaluate("window.__replay.agents()")) == seen[30]
    assert not console.unexpected(), console.errors
