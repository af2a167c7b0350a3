"""The browser client with a crowd (1,000 agents) and on a phone (390x844, touch), in Debian's
headless Chromium against the real server. Waits are on page state, never sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from bench._common import presets_file
from server.app import Running, run_town
from server.client import TownClient
from tests.browser_helpers import ARTIFACTS, chromium
from tests.conftest import ADMIN, make_settings
from tests.test_browser import WAIT_MS, View, open_page, page_matches_server

pytestmark = pytest.mark.browser

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}

# Pairs of label rectangles drawn in the last frame that overlap.
OVERLAPS = """() => {
  const r = window.__labels();
  const bad = [];
  for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {
    const a = r[i], b = r[j];
    if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) bad.push([a.text, b.text]);
  }
  return { n: r.length, agents: r.filter((x) => x.kind === 'agent').map((x) => x.text), bad };
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture
async def crowd(tmp_path: Path) -> AsyncIterator[Running]:
    """A town of 1,000 preset agents that has ticked twice (they are spread out and busy)."""
    s = make_settings(
        f"sqlite:///{tmp_path / 'crowd.sqlite3'}",
        agents=presets_file(1000, tmp_path),
        limits={"agents_per_town": 2000},
    )
    async with run_town(s) as town:
        async with await TownClient.connect(town.ws_url) as admin:
            await admin.call("login", token=ADMIN)
            await admin.call("tick", count=2)
        yield town


async def drawn(v: View) -> None:
    """Wait two animation frames: the map has drawn whatever changed (it draws in the first)."""
    await v.page.evaluate("() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))")


async def test_labels_never_overlap_in_a_town_of_1000(browser: Browser, crowd: Running) -> None:
    v = await open_page(browser, crowd.url)
    p = v.page
    # The list holds a few dozen rows, not a thousand.
    await expect(p.locator("#agent-count")).to_have_text("(1000)", timeout=WAIT_MS)
    assert 0 < await p.locator("#agent-list li").count() < 60
    for zoom in (1, 2, 3, 5):
        await p.get_by_role("button", name="Fit the whole town").click()
        for _ in range(zoom - 1):
            await p.get_by_role("button", name="Zoom in").click()
        await drawn(v)
        r = await p.evaluate(OVERLAPS)
        assert r["bad"] == [], f"zoom step {zoom}: overlapping labels {r['bad'][:5]}"
        assert r["n"] > 0

    # The selected agent's name is drawn, and still nothing overlaps.
    await p.get_by_label("Search agents by name").fill("Bench 0420")
    await expect(p.locator("#agent-list li")).to_have_count(1, timeout=WAIT_MS)
    await p.locator("#agent-list button").click()
    await expect(p.locator("#inspector-h")).to_have_text("Bench 0420", timeout=WAIT_MS)
    await p.get_by_role("button", name="Follow").click()
    await v.until("t.followed === 'bench-0420'")
    await drawn(v)
    r = await p.evaluate(OVERLAPS)
    assert r["bad"] == []
    assert any(name.startswith("Bench 0420") for name in r["agents"]), r["agents"][:10]
    ARTIFACTS.mkdir(exist_ok=True)
    await p.screenshot(path=str(ARTIFACTS / "crowd-desktop.png"))
    v.assert_clean()


async def test_virtual_agent_list_search_and_filters(browser: Browser, crowd: Running) -> None:
    v = await open_page(browser, crowd.url)
    p = v.page
    rows = p.locator("#agent-list li")
    await expect(p.locator("#agent-count")).to_have_text("(1000)", timeout=WAIT_MS)
    # Scrolling shows the last agent while the page still holds only a window of rows.
    await p.locator("#agent-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    await expect(p.locator("#agent-list .agent-name", has_text="Bench 0999")).to_be_visible(timeout=WAIT_MS)
    assert await rows.count() < 60
    # Search by name.
    await p.get_by_label("Search agents by name").fill("bench 00")
    await expect(p.locator("#agent-count")).to_have_text("(100 of 1000)", timeout=WAIT_MS)
    await expect(rows.first.locator(".agent-name")).to_have_text("Bench 0000")
    await p.get_by_label("Search agents by name").fill("")
    # Filter by state: every row shown is in it, and the count says how many.
    w = crowd.services.world
    state = max(
        {a.state.value for a in w.agents.values()},
        key=lambda s: sum(a.state.value == s for a in w.agents.values()),
    )
    await p.get_by_label("Filter by state").select_option(state)
    want = sum(a.state.value == state for a in w.agents.values())
    await expect(p.locator("#agent-count")).to_have_text(f"({want} of 1000)", timeout=WAIT_MS)
    assert set(await p.locator("#agent-list .state").all_inner_texts()) == {state}
    # Filter by building: agents at it or heading to it.
    await p.get_by_label("Filter by state").select_option("")
    b = w.buildings["cafe"]
    at = [a for a in w.agents.values() if a.target == b.id or (a.x, a.y) in b.tiles()]
    await p.get_by_label("Filter by building").select_option(b.id)
    await expect(p.locator("#agent-count")).to_have_text(f"({len(at)} of 1000)", timeout=WAIT_MS)
    v.assert_clean()


async def test_names_drawn_and_no_redraw_while_nothing_changes(
    view: View, town: Running, admin: TownClient
) -> None:
    v = view
    for _ in range(6):  # until the agents have left the homes they share
        await admin.call("tick")
        await page_matches_server(v, town)
        w = town.services.world
        if len({(a.x, a.y) for a in w.agents.values()}) == len(w.agents):
            break
    await v.until("t.agents().every(a => a.drawX === a.x && a.drawY === a.y)")  # glides over
    # A small town: every agent standing alone has its name drawn, and no label covers another.
    await drawn(v)
    r = await v.page.evaluate(OVERLAPS)
    assert r["bad"] == []
    # (agents in a conversation have bubbles drawn over them, where their names would go)
    talking = {b["agent_id"] for b in await v.state("bubbles()")} | {
        a.id for a in town.services.world.agents.values() if a.conversation is not None
    }
    alone = [
        a.name
        for a in town.services.world.agents.values()
        if sum((b.x, b.y) == (a.x, a.y) for b in town.services.world.agents.values()) == 1
        and a.id not in talking
    ]
    assert alone and set(alone) <= set(r["agents"]), (alone, r["agents"])
    f0 = await v.state("frames")
    # Thirty animation frames later the map has not been drawn again.
    await v.page.evaluate(
        "() => new Promise((ok) => { let n = 0; const f = () => (++n < 30 ? requestAnimationFrame(f) : ok()); requestAnimationFrame(f); })"
    )
    f1 = await v.state("frames")
    assert f1 <= f0 + 1, f"{f1 - f0} frames drawn while nothing changed"
    await v.page.get_by_role("button", name="Zoom in").click()
    await v.until("t.frames > arg", f1)  # a change draws again
    v.assert_clean()


async def test_phone_tap_an_agent_and_its_inspector_shows(browser: Browser, town: Running) -> None:
    v = await open_page(browser, town.url, **PHONE)
    p = v.page
    # The map uses the page's width, and is the page (no scroller).
    assert (await v.state("camera"))["width"] == 390
    agent = next(iter(town.services.world.agents.values()))
    cam = await v.state("camera")
    pt = await p.evaluate("([x, y]) => window.__town.tileToClient(x, y)", [agent.x, agent.y])
    if not (0 < pt["x"] < cam["width"] and 60 < pt["y"] < 700):  # bring it into view first
        await p.get_by_role("button", name="Fit the whole town").click()
        pt = await p.evaluate("([x, y]) => window.__town.tileToClient(x, y)", [agent.x, agent.y])
    await p.touchscreen.tap(pt["x"], pt["y"])
    await v.until("(t.selected && t.selected.kind === 'agent') || t.picking")
    if await v.state("picking"):
        await p.locator("#picker-list button").first.tap()
    await v.until("t.selected && t.selected.kind === 'agent' && t.sheet.tab === 'inspector'")
    head = p.locator("#inspector-h")
    await expect(head).to_be_visible(timeout=WAIT_MS)
    hb = await head.bounding_box()
    assert hb is not None and 0 <= hb["y"] and hb["y"] + hb["height"] <= 844, hb
    on_top = await p.evaluate(
        "([x, y]) => !!document.elementFromPoint(x, y)?.closest('#inspector')",
        [hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2],
    )
    assert on_top, "the inspector's heading is covered"
    assert await p.evaluate("() => window.scrollY === 0 && document.scrollingElement.scrollTop === 0")
    # Touch targets: every visible control in the sheet and on the map is at least 44 px.
    for tab in ("inspector", "agents", "play", "feed"):
        if tab != "inspector":
            await p.locator(f"#sheet-tabs [data-tab='{tab}']").tap()
            await v.until("t.sheet.tab === arg && t.sheet.state !== 'peek'", tab)
        small = await p.evaluate("""() => [...document.querySelectorAll('button, input, select, textarea, summary')]
            .filter((e) => e.offsetParent !== null && e.type !== 'checkbox')
            .map((e) => ({ id: e.id || e.textContent.trim().slice(0, 20), r: e.getBoundingClientRect(),
                           font: parseFloat(getComputedStyle(e).fontSize), tag: e.tagName }))
            .filter((e) => e.r.height < 44 || (['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tag) && e.font < 16))
            .map((e) => `${e.tag} ${e.id}: ${Math.round(e.r.height)}px, font ${e.font}px`)""")
        assert small == [], f"tab {tab}: {small}"
    await p.locator("#sheet-tabs [data-tab='play']").tap()
    await expect(p.get_by_label("Player name")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await p.screenshot(path=str(ARTIFACTS / "phone.png"))
    v.assert_clean()


async def test_phone_pinch_and_double_tap_zoom(browser: Browser, town: Running) -> None:
    v = await open_page(browser, town.url, **PHONE)
    p = v.page
    cdp = await p.context.new_cdp_session(p)
    box = await p.locator("#map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + 250
    s0 = (await v.state("camera"))["scale"]

    async def touch(kind: str, pts: list[tuple[float, float]]) -> None:
        await cdp.send(
            "Input.dispatchTouchEvent",
            {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(pts)]},
        )

    await touch("touchStart", [(cx - 30, cy), (cx + 30, cy)])
    for k in range(1, 9):
        await touch("touchMove", [(cx - 30 - 10 * k, cy), (cx + 30 + 10 * k, cy)])
    await touch("touchEnd", [])
    s1 = (await v.state("camera"))["scale"]
    assert s1 > s0 * 1.8, (s0, s1)  # fingers 60 px apart, then 220: the map grows about that much
    assert await v.state("selected") is None  # a pinch is not a tap
    # Pinching in again zooms out.
    await touch("touchStart", [(cx - 110, cy), (cx + 110, cy)])
    for k in range(1, 9):
        await touch("touchMove", [(cx - 110 + 10 * k, cy), (cx + 110 - 10 * k, cy)])
    await touch("touchEnd", [])
    s2 = (await v.state("camera"))["scale"]
    assert s2 < s1 / 1.8, (s1, s2)
    # A double tap zooms in about the tapped point.
    before = await v.state("camera")
    await p.touchscreen.tap(cx, cy)
    await p.touchscreen.tap(cx, cy)
    await v.until("t.camera.scale > arg * 1.9", before["scale"])
    v.assert_clean()


@pytest.fixture
async def view(browser: Browser, town: Running) -> View:
    return await open_page(browser, town.url)
