"""Playing as a character in the browser (Debian's headless Chromium against the real server):
join, tap a building and the avatar walks there over the next ticks, use equipment (cash moves
through the ledger), answer an agent's conversation in the chat panel, walk away from it, and
find the avatar where it was after a restart. Waits are on page state, never sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from server.app import Running, run_town
from server.client import TownClient
from tests.browser_helpers import chromium
from tests.conftest import ADMIN, make_settings
from tests.test_browser import WAIT_MS, View, login, open_page
from tests.test_browser_crowd import PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def join(v: View, name: str) -> str:
    p = v.page
    await p.get_by_label("Character name").fill(name)
    await p.get_by_role("button", name="Join the town").click()
    await v.until("t.avatar && t.followed === t.avatar.id")
    avatar_id: str = await v.state("avatar.id")
    return avatar_id


async def settled(v: View) -> None:
    """Wait until the camera stands still (following the avatar, it glides to it)."""
    last = None
    while True:
        cam = await v.state("camera")
        if cam == last:
            return
        last = cam
        await v.page.evaluate(
            "() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))"
        )


async def tap_building(v: View, town: Running, building_id: str) -> None:
    """Click a tile of the building away from its entrance (where agents stand)."""
    b = town.services.world.buildings[building_id]
    await settled(v)
    pt = await v.page.evaluate("([x, y]) => window.__town.tileToClient(x, y)", [b.x + 1, b.y + 1])
    await v.page.mouse.click(pt["x"], pt["y"])


async def test_join_walk_use_talk_in_the_browser(browser: Browser, town: Running, admin: TownClient) -> None:
    w = town.services.world
    v = await open_page(browser, town.url)
    p = v.page
    await login(v, player="pat")
    me = await join(v, "Pat Visitor")
    rec = w.agents[me]
    assert rec.avatar and rec.owner == "pat"
    # tap the cafe: the avatar walks there over the next ticks, and the page shows it walking
    await tap_building(v, town, "cafe")
    await expect(p.locator("#avatar-status")).to_contain_text("Walking to Sunrise Cafe", timeout=WAIT_MS)
    cafe = w.buildings["cafe"].entrance
    positions = [(rec.x, rec.y)]
    for _ in range(40):
        if rec.state.value != "moving":
            break
        await admin.call("tick", step=True)
        positions.append((rec.x, rec.y))
    assert (rec.x, rec.y) == cafe and len(set(positions)) > 2  # walked over several ticks
    await v.until("t.avatar.x === arg[0] && t.avatar.y === arg[1]", list(cafe))
    # use equipment where it stands: the price leaves its cash through the ledger
    buy = p.locator("#avatar-equipment button.use").filter(has_text="−$").first
    await expect(buy).to_be_visible(timeout=WAIT_MS)
    before = rec.cash
    await buy.click()
    await expect(p.locator("#avatar-status")).to_contain_text("cash now", timeout=WAIT_MS)
    assert rec.cash < before and w.ledger.total() == 0
    led = (await admin.call("get_agent", agent_id=me))["ledger"]
    assert led[-1]["src"] == f"agent:{me}" and led[-1]["amount"] == before - rec.cash
    # an agent at the cafe starts a conversation; the player answers in its chat panel
    for _ in range(400):
        if rec.conversation is not None:
            break
        await admin.call("tick", step=True)
    cid = rec.conversation
    assert cid is not None, "no agent talked to the avatar"
    await v.until("t.avatar.conversation === arg", cid)
    chat = p.locator("#avatar-chat")
    await expect(chat).to_have_attribute("data-conversation", cid, timeout=WAIT_MS)
    await expect(chat.locator("li")).not_to_have_count(0, timeout=WAIT_MS)
    assert w.conversations[cid].next_speaker == me  # the agent said its first line
    await p.get_by_label("Your line").fill("Hello there, nice to meet you!")
    await p.get_by_role("button", name="Say", exact=True).click()
    await expect(chat.locator("li.mine")).to_have_count(1, timeout=WAIT_MS)
    turns = w.conversations[cid].turns
    assert [t.speaker == me for t in turns] == [False, True]
    assert turns[1].text == "Hello there, nice to meet you!"
    # walking away ends it
    await tap_building(v, town, "park")
    await v.until("t.avatar.state === 'moving'")
    await expect(p.locator("#avatar-chat-h")).to_have_text("The conversation ended", timeout=WAIT_MS)
    assert cid not in w.conversations and rec.conversation is None
    assert w.agents[turns[0].speaker].conversation is None
    v.assert_clean()


async def test_avatar_is_where_it_was_after_a_restart(browser: Browser, tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'town.sqlite3'}")
    async with run_town(settings) as town:
        v = await open_page(browser, town.url)
        await login(v, player="pat")
        me = await join(v, "Pat Visitor")
        # the arrow keys on the focused map walk the avatar a tile
        w = town.services.world
        rec = w.agents[me]
        keys = {"ArrowRight": (1, 0), "ArrowLeft": (-1, 0), "ArrowDown": (0, 1), "ArrowUp": (0, -1)}
        key, (dx, dy) = next((k, d) for k, d in keys.items() if w.grid.walkable(rec.x + d[0], rec.y + d[1]))
        cam = await v.state("camera")
        await v.page.locator("#map").focus()
        await v.page.keyboard.press(key)
        await v.until("t.avatar.state === 'moving'")
        assert rec.path == [(rec.x + dx, rec.y + dy)]
        assert (await v.state("camera"))["scale"] == cam["scale"]
        await tap_building(v, town, "library")
        await v.until("t.avatar.state === 'moving'")
        async with await TownClient.connect(town.ws_url) as admin:
            await admin.call("login", token=ADMIN)
            await admin.call("tick", count=2, step=True)
        rec = town.services.world.agents[me]
        where = (rec.x, rec.y)
        kept = await v.page.evaluate("() => ({ ...localStorage })")  # what this browser keeps
        await v.page.context.close()
    async with run_town(settings) as town:  # on another port: another origin, so carry it over
        v = await open_page(browser, town.url)
        await v.page.evaluate(
            "(kept) => { for (const [k, x] of Object.entries(kept)) localStorage.setItem(k, x); }", kept
        )
        await login(v, player="pat")
        await v.until("t.avatar && t.avatar.x === arg[0] && t.avatar.y === arg[1]", list(where))
        await expect(v.page.locator("#avatar-join")).to_be_hidden()
        await expect(v.page.locator("#avatar-here")).to_be_visible()
        v.assert_clean()


async def test_phone_join_and_tap_to_walk(browser: Browser, town: Running) -> None:
    v = await open_page(browser, town.url, **PHONE)
    p = v.page
    await p.locator("#sheet-tabs [data-tab='play']").tap()
    await login(v, player="pat")
    me = await join(v, "Pat Visitor")
    # every visible control of the Play card is a touch target, inputs do not zoom the page
    small = await p.evaluate("""() => [...document.querySelectorAll('#avatar-box button, #avatar-box input, #avatar-box select')]
        .filter((e) => e.offsetParent !== null && e.type !== 'checkbox')
        .map((e) => ({ id: e.id || e.textContent.trim().slice(0, 20), r: e.getBoundingClientRect(),
                       font: parseFloat(getComputedStyle(e).fontSize), tag: e.tagName }))
        .filter((e) => e.r.height < 44 || (e.tag !== 'BUTTON' && e.font < 16))
        .map((e) => `${e.tag} ${e.id}: ${Math.round(e.r.height)}px, font ${e.font}px`)""")
    assert small == []
    await p.locator("#sheet-tabs [data-tab='play']").tap()  # fold the sheet: the map is free
    await v.until("t.sheet.state === 'peek'")
    w = town.services.world
    rec = w.agents[me]
    taken = {(a.x, a.y) for a in w.agents.values()}
    goal = next(  # a free walkable tile near the avatar (the camera follows it: it is in view)
        (rec.x + dx, rec.y + dy)
        for d in range(3, 8)
        for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d))
        if w.grid.inside(rec.x + dx, rec.y + dy)
        and w.grid.walkable(rec.x + dx, rec.y + dy)
        and w.building_at(rec.x + dx, rec.y + dy) is None
        and all(abs(rec.x + dx - x) + abs(rec.y + dy - y) > 1 for x, y in taken)
    )
    await settled(v)
    pt = await p.evaluate("([x, y]) => window.__town.tileToClient(x, y)", list(goal))
    await p.touchscreen.tap(pt["x"], pt["y"])
    await v.until("t.avatar.state === 'moving'")
    assert rec.path[-1] == goal
    v.assert_clean()
