"""The browser client in Debian's headless Chromium, against the real server started in-process.

Every wait is on page state (`window.__town`, the DOM) through `wait_for_function`/locators,
never a sleep. Each test also asserts the page logged no console errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from server.app import Running
from server.client import TownClient
from tests.browser_helpers import ARTIFACTS, Console, DropProxy, chromium

pytestmark = pytest.mark.browser

WAIT_MS = 15_000
VIEWPORT = {"width": 1400, "height": 860}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@dataclass
class View:
    """A page of the client and its console."""

    page: Page
    console: Console

    async def state(self, expr: str) -> Any:
        return await self.page.evaluate(f"window.__town.{expr}")

    async def until(self, js: str, arg: Any = None) -> None:
        """Wait until the JS expression (over `t` = window.__town and `arg`) is true."""
        await self.page.wait_for_function(
            f"(arg) => {{ const t = window.__town; return !!t && ({js}); }}",
            arg=arg,
            timeout=WAIT_MS,
            polling="raf",
        )

    def assert_clean(self, **kw: bool) -> None:
        errors = self.console.unexpected(**kw)
        assert not errors, "console errors on the page:\n" + "\n".join(errors)


async def open_page(browser: Browser, url: str, **context: Any) -> View:
    ctx = await browser.new_context(viewport=context.pop("viewport", VIEWPORT), **context)
    page = await ctx.new_page()
    console = Console()
    console.attach(page)
    await page.goto(url)
    v = View(page, console)
    await v.until("t.syncs >= 1 && t.loaded")
    return v


@pytest.fixture
async def view(browser: Browser, town: Running) -> View:
    return await open_page(browser, town.url)


async def login(v: View, player: str = "", token: str = "") -> None:
    p = v.page
    if player:
        await p.get_by_label("Player name").fill(player)
    if token:
        await p.get_by_label("Admin token").fill(token)
    await p.get_by_role("button", name="Log in").click()
    await expect(p.locator("#whoami")).to_be_visible(timeout=WAIT_MS)


async def create_agent(
    v: View,
    name: str,
    *,
    cash: int = 100,
    home: str | None = None,
    plan: str = "qa",
    memory: str = "long_term",
) -> None:
    """Fill and send the create-agent form (the caller checks the outcome)."""
    p = v.page
    box = p.locator("#register-box")
    if await box.get_attribute("open") is None:
        await box.locator("summary").click()
    await p.get_by_label("Name", exact=True).fill(name)
    await p.get_by_label("Bio").fill(f"{name} is new in town and curious about everything.")
    await p.get_by_label("Goal").fill("Find a job and make friends.")
    await p.get_by_label("Starting cash").fill(str(cash))
    await p.get_by_label("Plan module").select_option(plan)
    await p.get_by_label("Memory module").select_option(memory)
    if home:
        await p.get_by_label("Home").select_option(home)
    await p.get_by_role("button", name="Create agent").click()


async def page_matches_server(v: View, town: Running) -> None:
    """Wait until the page shows the server's tick and every agent where the server has it."""
    w = town.services.world
    want = {a.id: [a.x, a.y] for a in w.agents.values()}
    await v.until(
        "t.tick === arg.tick && t.agents().every(a => arg.pos[a.id] && arg.pos[a.id][0] === a.x && arg.pos[a.id][1] === a.y)"
        " && t.agents().length === Object.keys(arg.pos).length",
        {"tick": w.clock.tick, "pos": want},
    )


# ----- the tests -----


async def test_page_loads_and_draws_the_town(browser: Browser, town: Running) -> None:
    v = await open_page(browser, town.url, device_scale_factor=2)
    p = v.page
    names = sorted(a.name for a in town.services.world.agents.values())
    assert len(names) >= 3
    await expect(p.locator("#agent-list li")).to_have_count(len(names), timeout=WAIT_MS)
    listed = sorted(await p.locator("#agent-list .agent-name").all_inner_texts())
    assert listed == names
    await expect(p.locator("#town-name")).to_have_text(town.services.world.town.map.name)
    await expect(p.locator("#status")).to_have_attribute("data-state", "online")
    await expect(p.get_by_role("link", name="Run report")).to_have_attribute("href", "/report")

    # The canvas is drawn at device pixels, with many colours (tiles, buildings, agents), not blank.
    # (It is drawn again only when something changed, so two animation frames are enough.)
    await v.until("t.frames > 0")
    await p.evaluate("() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))")
    pix = await p.evaluate("""() => {
        const c = document.getElementById('map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const colours = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return {w: c.width, h: c.height, cw: c.clientWidth, ch: c.clientHeight, colours: colours.size};
    }""")
    assert pix["w"] == pix["cw"] * 2 and pix["h"] == pix["ch"] * 2, pix
    assert pix["colours"] > 20, pix

    # The canvas follows the window; zoom buttons and the wheel zoom, dragging pans.
    await p.set_viewport_size({"width": 1000, "height": 700})
    await v.until("t.camera.width === document.getElementById('map').clientWidth && t.camera.width < 700")
    before = await v.state("camera")
    await p.get_by_role("button", name="Zoom in").click()
    zoomed = await v.state("camera")
    assert zoomed["scale"] > before["scale"]
    await p.get_by_role("button", name="Zoom out").click()
    await p.get_by_role("button", name="Zoom out").click()
    assert (await v.state("camera"))["scale"] < zoomed["scale"]
    box = await p.locator("#map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    s0 = (await v.state("camera"))["scale"]
    await p.mouse.move(cx, cy)
    await p.mouse.wheel(0, -300)
    await v.until("t.camera.scale > arg", s0)
    c0 = await v.state("camera")
    await p.mouse.move(cx, cy)
    await p.mouse.down()
    await p.mouse.move(cx + 60, cy + 40, steps=5)
    await p.mouse.up()
    c1 = await v.state("camera")
    assert round(c1["ox"] - c0["ox"]) == 60 and round(c1["oy"] - c0["oy"]) == 40
    assert await v.state("selected") is None  # a drag is not a click

    # Clicking an agent on the map inspects it (agents sharing its tile are one marker: a click
    # on it lists them, and choosing one inspects it).
    agent = next(iter(town.services.world.agents.values()))
    await p.get_by_role("button", name="Fit the whole town").click()
    pt = await p.evaluate("([x, y]) => window.__town.tileToClient(x, y)", [agent.x, agent.y])
    await p.mouse.click(pt["x"], pt["y"])
    await v.until("(t.selected && t.selected.kind === 'agent') || t.picking")
    if await v.state("picking"):
        await p.locator("#picker-list button").first.click()
        assert not await v.state("picking")
    await v.until("t.selected && t.selected.kind === 'agent'")
    sel = await v.state("selected")
    assert town.services.world.agents[sel["id"]].x == agent.x  # one of the agents on that tile
    v.assert_clean()


async def test_agents_glide_to_their_new_places_after_ticks(
    view: View, town: Running, admin: TownClient
) -> None:
    v = view
    start = {a["id"]: (a["x"], a["y"]) for a in await v.state("agents()")}
    moved = False
    for _ in range(4):
        # Watch for a glide (an agent drawn between tiles) while the tick happens.
        glide = asyncio.ensure_future(v.until("t.agents().some(a => a.drawX !== a.x || a.drawY !== a.y)"))
        await admin.call("tick", count=1)
        await page_matches_server(v, town)
        now = {a["id"]: (a["x"], a["y"]) for a in await v.state("agents()")}
        if now != start:
            await glide
            moved = True
            break
        glide.cancel()
    assert moved, "no agent moved in 4 ticks"
    # Every glide ends on the server's tile.
    await v.until("t.agents().every(a => a.drawX === a.x && a.drawY === a.y)")
    await expect(v.page.locator("#tick")).to_have_text(str(town.services.world.clock.tick))
    await expect(v.page.locator("#clock")).to_have_text(str(town.services.world.clock))
    # The list shows what they are doing now.
    a = next(iter(town.services.world.agents.values()))
    item = v.page.locator(f"[data-agent-id='{a.id}']")
    await expect(item.locator(".state")).to_have_text(a.state.value)
    v.assert_clean()


async def test_glides_follow_walkable_tiles_around_walls_and_buildings(view: View) -> None:
    """The server sends positions, not paths: the client's glide between two positions goes
    around a wall and a building (every drawn point on a passable tile, each step to a
    neighbour), and straight when the agent only steps to a neighbouring tile."""
    result = await view.page.evaluate("""async () => {
      const { TownStore } = await import('/js/store.js');
      const s = new TownStore();
      const tiles = ['.......', '...#...', '...#...', '...#...', '.......'];
      s.load({ name: 't', width: 7, height: 5, tiles, tick: 0, clock: '', templates: [],
               buildings: [{ id: 'b', x: 2, y: 0, w: 1, h: 1 }], agents: [{ id: 'a', x: 1, y: 1 }] }, 0);
      s.applyTick({ tick: 1, clock: '', agents: [{ id: 'a', x: 5, y: 1 }] }, 10000);
      const a = s.agents.get('a');
      const drawn = [];
      for (let t = 10000; t <= 10000 + a.anim.dur; t += a.anim.dur / 200) drawn.push(s.drawPos(a, t));
      const off = drawn.filter((p) => !s.passable(Math.round(p.x), Math.round(p.y)));
      s.applyTick({ tick: 2, clock: '', agents: [{ id: 'a', x: 5, y: 2 }] }, 20000);
      return { path: a.anim.path === null ? null : undefined, route: s.trail(1, 1, 5, 1), off: off.length,
               end: s.drawPos(a, 30000) };
    }""")
    route = result["route"]
    assert route[0] == {"x": 1, "y": 1} and route[-1] == {"x": 5, "y": 1}
    assert all(
        abs(p["x"] - q["x"]) + abs(p["y"] - q["y"]) == 1 for p, q in zip(route, route[1:], strict=False)
    )
    assert {"x": 3, "y": 1} not in route and {
        "x": 2,
        "y": 0,
    } not in route  # not through the wall or the building
    assert result["off"] == 0
    assert result["path"] is None  # a step to a neighbour glides straight
    assert result["end"] == {"x": 5, "y": 2}
    view.assert_clean()


async def test_create_an_agent_through_the_form(view: View, town: Running) -> None:
    v, p = view, view.page
    assert not await p.locator("#register-box").is_visible()  # viewers cannot create agents
    await login(v, player="Sam")
    assert await v.state("role") == "player"
    # Selects are filled from `info`.
    plans = await p.locator("#reg-plan option").evaluate_all("os => os.map(o => o.value)")
    assert sorted(plans) == sorted(town.services.world.plugins.planner_names())

    # The server refuses too much starting cash: its message is shown in the form.
    await create_agent(v, "Zed Rich", cash=600)
    err = p.locator("#register-error")
    await expect(err).to_contain_text("at most 500", timeout=WAIT_MS)
    await expect(p.locator("#reg-cash")).to_have_attribute("aria-invalid", "true")
    # An invalid name: the validation message names the field.
    await create_agent(v, "Bad<Name>", cash=50)
    await expect(err).to_contain_text("name", timeout=WAIT_MS)
    await expect(p.locator("#reg-name")).to_have_attribute("aria-invalid", "true")
    assert not any(a.name in ("Zed Rich", "Bad<Name>") for a in town.services.world.agents.values())

    await create_agent(v, "Nora Quill", cash=120, plan="daily", memory="stream")
    await expect(p.locator("#register-ok")).to_contain_text("Nora Quill", timeout=WAIT_MS)
    await expect(err).to_be_empty()
    a = next(a for a in town.services.world.agents.values() if a.name == "Nora Quill")
    assert (a.owner, a.cash, a.plan, a.memory_module) == ("Sam", 120, "daily", "stream")
    await expect(p.locator(f"[data-agent-id='{a.id}']")).to_be_visible()
    await expect(p.locator("#inspector-h")).to_have_text("Nora Quill")  # the new agent is inspected

    # A name in use: the conflict is shown.
    await create_agent(v, "Nora Quill", cash=10)
    await expect(err).to_contain_text("exists", timeout=WAIT_MS)
    v.assert_clean()


async def test_chat_with_an_agent_and_inspect_it(view: View, town: Running, admin: TownClient) -> None:
    v, p = view, view.page
    await admin.call("tick", count=2)
    await page_matches_server(v, town)
    await login(v, player="Sam")
    agent = (
        town.services.world.agents["alice-chen"]
        if "alice-chen" in town.services.world.agents
        else next(iter(town.services.world.agents.values()))
    )
    await p.locator(f"[data-agent-id='{agent.id}']").click()
    ins = p.locator("#inspector")
    await expect(ins.locator("#inspector-h")).to_have_text(agent.name)
    await expect(ins).to_contain_text(agent.bio)
    await expect(ins).to_contain_text(agent.goal)
    await expect(ins.locator(".plan")).to_be_visible(timeout=WAIT_MS)
    await expect(ins.locator("svg.sparkline")).to_be_visible()
    await expect(ins.locator("table.ledger")).to_contain_text("starting cash")

    await p.get_by_label(f"Say something to {agent.name}").fill("Hello! What are you up to today?")
    await p.get_by_role("button", name="Send").click()
    answer = p.locator("#chat-log li.them:not(.waiting)")
    await expect(answer).to_have_count(1, timeout=WAIT_MS)
    text = await answer.inner_text()
    assert text.startswith(f"{agent.name}:") and len(text) > len(agent.name) + 5
    await expect(answer).to_have_attribute("data-failed", "false")
    # The reply also shows as a bubble over the agent, and the talk lands in its memories.
    await v.until("t.bubbles().some(b => b.agent_id === arg)", agent.id)
    await expect(ins.locator(".memories")).to_contain_text("What are you up to today?", timeout=WAIT_MS)
    await p.locator("#chat-form").scroll_into_view_if_needed()
    await p.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    await p.screenshot(path=str(ARTIFACTS / "town.png"))
    v.assert_clean()


async def test_put_up_a_building_from_the_map(view: View, town: Running) -> None:
    v, p = view, view.page
    w = town.services.world
    await login(v, player="Sam")
    await create_agent(v, "Bea Builder", cash=500, home="house-a")
    await expect(p.locator("#register-ok")).to_contain_text("Bea Builder", timeout=WAIT_MS)
    payer = next(a for a in w.agents.values() if a.name == "Bea Builder")

    await p.locator("#build-box summary").click()
    await p.get_by_label("Template").select_option("stall")
    await expect(p.locator("#build-desc")).to_contain_text("$100")
    await expect(p.get_by_label("Paid by")).to_have_value(payer.id)

    async def place(tx: int, ty: int) -> None:
        await p.get_by_role("button", name="Pick a place on the map").click()
        await expect(p.locator("#place-hint")).to_be_visible()
        pt = await p.evaluate("([x, y]) => window.__town.tileToClient(x, y)", [tx, ty])
        await p.mouse.move(pt["x"], pt["y"])
        await v.until(
            "t.placing !== null && t.preview && t.preview.x === arg[0] && t.preview.y === arg[1]", [tx, ty]
        )
        await p.mouse.click(pt["x"], pt["y"])

    # On top of Maple House: the preview says no, and the server's conflict is shown.
    house = w.buildings["house-a"]
    await place(house.x + 1, house.y + 1)
    await expect(p.locator("#build-error")).to_contain_text("Cannot build there", timeout=WAIT_MS)

    # Too dear: an office costs more than Bea has.
    await p.get_by_label("Template").select_option("office")
    await place(40, 23)
    await expect(p.locator("#build-error")).to_contain_text("Not enough cash", timeout=WAIT_MS)
    await expect(p.locator("#build-error")).to_contain_text("800")

    # A stall on free grass, paid by Bea.
    await p.get_by_label("Template").select_option("stall")
    await p.get_by_label("Name (optional)").fill("Bea's Snacks")
    await p.get_by_role("button", name="Pick a place on the map").click()
    pt = await p.evaluate("([x, y]) => window.__town.tileToClient(x, y)", [10, 26])
    await p.mouse.move(pt["x"], pt["y"])
    await v.until("t.preview && t.preview.x === 10 && t.preview.y === 26 && t.preview.ok")
    await p.mouse.click(pt["x"], pt["y"])
    await expect(p.locator("#build-ok")).to_contain_text("Bea's Snacks", timeout=WAIT_MS)
    await expect(p.locator("#build-error")).to_be_empty()
    b = next(b for b in w.buildings.values() if b.name == "Bea's Snacks")
    assert (b.x, b.y, b.template.name, b.owner) == (10, 26, "stall", "Sam")
    assert payer.cash == 400
    await v.until('t.buildings().some(b => b.name === "Bea\'s Snacks" && b.x === 10 && b.y === 26)')
    assert await v.state("placing") is None
    v.assert_clean()


async def test_admin_starts_pauses_and_steps_the_clock(view: View, town: Running) -> None:
    v, p = view, view.page
    assert not await p.locator("#admin-controls").is_visible()
    await login(v, token="test-admin-token")
    assert await v.state("role") == "admin"
    await expect(p.locator("#admin-controls")).to_be_visible()

    await p.get_by_role("button", name="Pause").click()
    await expect(p.locator("#paused-badge")).to_be_visible(timeout=WAIT_MS)
    assert town.services.paused is True
    await p.get_by_role("button", name="Step").click()
    await expect(p.locator("#admin-msg")).to_contain_text("paused", timeout=WAIT_MS)
    assert town.services.world.clock.tick == 0

    await p.get_by_role("button", name="Start ticking").click()
    await expect(p.locator("#paused-badge")).to_be_hidden(timeout=WAIT_MS)
    assert town.services.paused is False
    await p.get_by_role("button", name="Step").click()
    await expect(p.locator("#admin-msg")).to_contain_text("tick 1", timeout=WAIT_MS)
    await expect(p.locator("#tick")).to_have_text("1")
    assert town.services.world.clock.tick == 1

    # A wrong token is refused in the login form.
    other = await open_page(p.context.browser, town.url)  # type: ignore[arg-type]
    await other.page.get_by_label("Admin token").fill("nope")
    await other.page.get_by_role("button", name="Log in").click()
    await expect(other.page.locator("#login-error")).to_contain_text("wrong admin token", timeout=WAIT_MS)
    v.assert_clean()
    other.assert_clean()


async def test_connection_loss_banner_and_reconnect(
    browser: Browser, town: Running, admin: TownClient
) -> None:
    proxy = DropProxy(town.port)
    await proxy.up()
    try:
        v = await open_page(browser, proxy.url)
        p = v.page
        await login(v, player="Sam")
        banner = p.locator("#banner")
        await expect(banner).to_be_hidden()

        await proxy.down()  # the server "restarts": sockets drop, reconnects are refused
        await v.until("!t.connected")
        await expect(banner).to_be_visible(timeout=WAIT_MS)
        await expect(banner).to_contain_text("Lost the connection")
        await expect(p.locator("#status")).to_have_attribute("data-state", "offline")
        # Let the page fail to reconnect at least once, so backoff is exercised.
        await expect(banner).to_contain_text("attempt 2", timeout=WAIT_MS)

        # Meanwhile the town moves on; the page misses these pushes.
        await admin.call("tick", count=2)
        await admin.call(
            "register", name="Late Comer", bio="Arrived while you were away.", goal="Be noticed."
        )

        await proxy.up()
        await v.until("t.connected && t.syncs >= 2")
        await page_matches_server(v, town)  # re-fetched: tick and every agent, the newcomer too
        await expect(p.locator("#agent-list")).to_contain_text("Late Comer")
        await expect(p.locator("#status")).to_have_attribute("data-state", "online")
        assert await v.state("role") == "player"  # logged in again by itself
        await expect(banner).to_be_hidden(timeout=WAIT_MS)

        # Pushes flow again after the reconnect.
        await admin.call("tick", count=1)
        await page_matches_server(v, town)
        v.assert_clean(allow_refused_sockets=True)
        await p.context.close()
    finally:
        await proxy.down()


async def test_a_conversation_shows_as_one_thread(view: View, town: Running, admin: TownClient) -> None:
    """The lines of one conversation gather under one entry of the activity feed."""
    from agent.interfaces import Action
    from server.world import rules

    w = town.services.world
    alice, bob = w.agents["alice-chen"], w.agents["bob-martin"]
    async with w.lock:  # Alice opens a conversation; the next ticks carry Bob's and her replies
        bob.x, bob.y = alice.x, alice.y
        rules.apply(w, alice, Action("chat", target=bob.id, text="Hi Bob, got a minute?"))
        await w.commit()
    await admin.call("tick", count=3)
    thread = view.page.locator("#feed > li", has_text="Conversation: Bob Martin and Alice Chen")
    await expect(thread).to_have_count(1, timeout=WAIT_MS)
    await expect(thread.locator("ol.thread > li")).to_have_count(3, timeout=WAIT_MS)
    await expect(thread.locator("ol.thread > li").first).to_contain_text("Bob Martin:")
    # no chat line of it stands on its own in the feed
    assert await view.page.locator("#feed > li", has_text=" to Alice Chen: ").count() == 0
    view.assert_clean()
