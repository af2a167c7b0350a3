"""The browser client highlights where a building fits while one is being placed (`find_site`).

Debian's headless Chromium against the real server; every wait is on page state
(`window.__town`), never a sleep, and the page must log no console errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from server.app import Running
from server.client import TownClient
from tests.browser_helpers import Console, town_page
from tests.conftest import ADMIN

pytestmark = pytest.mark.browser

WAIT_MS = 15_000


@pytest.fixture
async def page(town: Running) -> AsyncIterator[tuple[Page, Console]]:
    async with town_page(town.url, WAIT_MS) as opened:
        yield opened


async def until(p: Page, js: str, arg: object = None) -> None:
    await p.wait_for_function(
        f"(arg) => {{ const t = window.__town; return !!t && ({js}); }}", arg=arg, timeout=WAIT_MS
    )


async def test_placing_highlights_every_site_the_server_answers(
    page: tuple[Page, Console], town: Running, admin: TownClient
) -> None:
    p, console = page
    await p.get_by_label("Admin token").fill(ADMIN)
    await p.get_by_role("button", name="Log in").click()
    await expect(p.locator("#whoami")).to_be_visible(timeout=WAIT_MS)
    await p.locator("#build-box summary").click()
    await p.get_by_label("Template").select_option("stall")
    await p.get_by_role("button", name="Pick a place on the map").click()

    # every position find_site answers is highlighted, and drawn
    want = await admin.call("find_site", template="stall", limit=100_000)
    await until(p, "t.sites.template === 'stall' && t.sites.loaded && t.sites.frames > 0")
    got = await p.evaluate("window.__town.sites.list")
    assert sorted(map(tuple, got)) == sorted((s["x"], s["y"]) for s in want["sites"])
    await expect(p.locator("#place-sites")).to_contain_text(f"{want['total']} places fit")
    house = town.services.world.buildings["house-a"]
    assert [house.x, house.y] not in got

    # a stall put up elsewhere (by the server) takes its places out of the highlight
    x, y = want["sites"][-1]["x"], want["sites"][-1]["y"]
    await admin.call("create_building", template="stall", x=x, y=y)
    await until(
        p, "t.sites.loaded && !t.sites.list.some(([sx, sy]) => sx === arg[0] && sy === arg[1])", [x, y]
    )

    # clicking a highlighted tile builds there
    tx, ty = got[0]
    pt = await p.evaluate("([x, y]) => window.__town.tileToClient(x, y)", [tx, ty])
    await p.mouse.move(pt["x"], pt["y"])
    await until(p, "t.preview && t.preview.x === arg[0] && t.preview.y === arg[1]", [tx, ty])
    await p.mouse.click(pt["x"], pt["y"])
    await expect(p.locator("#build-ok")).to_contain_text(f"({tx}, {ty})", timeout=WAIT_MS)
    # placing ended: nothing is highlighted any more
    await until(p, "t.placing === null && t.sites.template === null && t.sites.count === 0")
    assert not console.unexpected(), console.errors
