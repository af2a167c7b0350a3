"""The admin's runs in the browser against the real server: fork the open run from now and from a
kept checkpoint, open a fork (the live view shows it), replay it (its parent's history up to the
fork tick), archive, delete, and see the server's refusals; the parent run stays as it was. On a
phone the Replay view opens and jumps to a tick. Every wait is on page state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Page, WebSocketRoute, expect

from server.app import Running, run_town
from server.client import TownClient
from server.runs.replay import fields_of
from tests.browser_helpers import Console, chromium
from tests.conftest import make_settings
from tests.test_browser import VIEWPORT, WAIT_MS, View, login, open_page, page_matches_server
from tests.test_browser_crowd import PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
async def town(sqlite_url: str) -> AsyncIterator[Running]:
    """The default town with a checkpoint every 3 ticks (the `admin` fixture logs in to it)."""
    async with run_town(make_settings(sqlite_url, runs={"checkpoint_every": 3})) as r:
        yield r


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


def shown(agents: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {a["id"]: (a["x"], a["y"], a["state"], a.get("label"), a["cash"]) for a in agents}


def now(town: Running) -> dict[str, tuple[Any, ...]]:
    return shown([fields_of(a) for a in town.services.world.agents.values()])


async def until_runs(p: Page, js: str, arg: object = None) -> None:
    """Wait until the JS expression (over `r` = window.__runs and `arg`) is true."""
    await p.wait_for_function(
        f"(arg) => {{ const r = window.__runs; return !!r && ({js}); }}", arg=arg, timeout=WAIT_MS
    )


async def until_replay(p: Page, js: str, arg: object = None) -> None:
    await p.wait_for_function(
        f"(arg) => {{ const r = window.__replay; return !!r && ({js}); }}", arg=arg, timeout=WAIT_MS
    )


async def fork(p: Page, name: str, *, tick: int | None = None, open_it: bool = False) -> None:
    """Fill and send the fork form from the open run (the caller checks the outcome)."""
    await p.get_by_label("New run name").fill(name)
    await p.locator("#fork-tick").select_option("" if tick is None else str(tick))
    await p.get_by_label("open it").set_checked(open_it)
    await p.get_by_role("button", name="Fork", exact=True).click()


def row(p: Page, name: str) -> Any:
    return p.locator(f"#runs-list li[data-name='{name}']")


async def admin_page(browser: Browser, town: Running) -> View:
    v = await open_page(browser, town.url)
    await login(v, token="test-admin-token")
    await v.page.locator("#runs-box summary").click()
    await until_runs(v.page, "r.shown && r.loads >= 1")
    return v


async def test_admin_forks_opens_and_replays_runs(browser: Browser, town: Running, admin: TownClient) -> None:
    seen: dict[int, dict[str, tuple[Any, ...]]] = {}
    for _ in range(7):
        await admin.call("tick")
        seen[town.services.world.clock.tick] = now(town)
    v = await admin_page(browser, town)
    p = v.page
    assert not await v.page.locator("#runs-box").is_hidden()
    await expect(row(p, "main")).to_have_class("open")
    await expect(row(p, "main")).to_contain_text("base run · tick 7")
    await expect(row(p, "main")).to_contain_text("checkpoints 3, 6")
    assert await p.locator("#fork-tick option").all_inner_texts() == [
        "now (tick 7)",
        "checkpoint at tick 6",
        "checkpoint at tick 3",
    ]

    # fork from now, then from the checkpoint of tick 3: both appear with their lineage
    await fork(p, "copy")
    await expect(p.locator("#fork-ok")).to_have_text("Forked main at tick 7 into copy.")
    await expect(row(p, "copy").locator(".run-lineage")).to_have_text("from main @ 7")
    await expect(row(p, "copy")).to_contain_text("tick 7")
    await fork(p, "early", tick=3)
    await expect(p.locator("#fork-ok")).to_have_text("Forked main at tick 3 into early.")
    await expect(row(p, "early").locator(".run-lineage")).to_have_text("from main @ 3")
    await expect(row(p, "early")).to_contain_text("tick 3")
    await expect(row(p, "main")).to_have_class("open")  # forking opened nothing
    assert town.services.world.clock.tick == 7

    # a fork to a name that exists is refused next to the form
    await fork(p, "early")
    await expect(p.locator("#fork-error")).to_contain_text("a run named 'early' exists already")
    await expect(p.get_by_label("New run name")).to_have_attribute("aria-invalid", "true")

    # open the early fork: the live view shows its tick and its agents (the parent's at tick 3)
    await row(p, "early").get_by_role("button", name="Open").click()
    await until_runs(p, "r.open === 'early'")
    await expect(row(p, "early")).to_have_class("open")
    await expect(row(p, "early").get_by_role("button", name="Open")).to_be_disabled()
    await expect(row(p, "early").get_by_role("button", name="Delete")).to_be_disabled()
    await v.until("t.tick === 3")
    await page_matches_server(v, town)
    assert town.services.world.clock.tick == 3
    page_agents = {
        a["id"]: (a["x"], a["y"], a["state"], a["label"], a["cash"]) for a in await v.state("agents()")
    }
    assert page_agents == seen[3]

    # the fork ticks on its own; the parent stays at tick 7 with its agents as they were
    await admin.call("tick")
    await v.until("t.tick === 4")
    runs = {r["name"]: r for r in (await admin.call("list_runs"))["runs"]}
    assert (runs["main"]["tick"], runs["main"]["agents"], runs["main"]["open"]) == (7, len(seen[7]), False)
    assert (runs["early"]["tick"], runs["early"]["parent"], runs["early"]["fork_tick"]) == (4, "main", 3)
    parent = await admin.call("replay_state", run="main", tick=7)
    assert (parent["first_tick"], parent["last_tick"]) == (1, 7)
    assert shown(parent["agents"]) == seen[7]
    await expect(row(p, "early").locator(".run-tick")).to_have_text("tick 4")  # follows the live town

    # replay the fork: its first ticks are its parent's, up to the fork tick
    await row(p, "copy").get_by_role("button", name="Replay").click()
    await until_replay(p, "r.open && r.run === 'copy' && r.tick === 7 && r.last === 7")
    assert shown(await p.evaluate("window.__replay.agents()")) == seen[7]
    await p.locator("#replay-jump").fill("3")
    await p.locator("#replay-jump").press("Enter")
    await until_replay(p, "r.tick === 3")
    assert shown(await p.evaluate("window.__replay.agents()")) == seen[3]
    await p.locator("#replay-root").get_by_role("button", name="Close").click()
    await until_replay(p, "!r.open")

    # fork the open run with "open it": the new run is open at once, the live view follows it
    await fork(p, "next", open_it=True)
    await expect(p.locator("#fork-ok")).to_have_text("Forked early at tick 4 into next; it is open now.")
    await until_runs(p, "r.open === 'next'")
    await expect(row(p, "next").locator(".run-lineage")).to_have_text("from early @ 4")
    await v.until("t.tick === 4")
    await page_matches_server(v, town)

    # archive and unarchive; a refusal on a row is shown under that row
    await row(p, "copy").get_by_role("button", name="Archive").click()
    await expect(row(p, "copy")).to_have_class("archived")
    await expect(row(p, "copy").get_by_role("button", name="Open")).to_be_disabled()
    await row(p, "copy").get_by_role("button", name="Unarchive").click()
    await expect(row(p, "copy")).not_to_have_class("archived")
    # another admin archives a run: the page hears of it (a `runs` push) and shows it archived
    await admin.call("archive_run", name="early")
    await expect(row(p, "early")).to_have_class("archived")
    await expect(row(p, "early").get_by_role("button", name="Open")).to_be_disabled()

    # delete asks first: cancelling keeps the run, accepting drops it
    async def dismiss(d: Dialog) -> None:
        await d.dismiss()

    async def accept(d: Dialog) -> None:
        assert "Delete run copy" in d.message
        await d.accept()

    p.once("dialog", dismiss)
    await row(p, "copy").get_by_role("button", name="Delete").click()
    await until_runs(p, "r.runs().some((x) => x.name === 'copy')")
    p.once("dialog", accept)
    await row(p, "copy").get_by_role("button", name="Delete").click()
    await expect(row(p, "copy")).to_have_count(0)
    names = {r["name"] for r in (await admin.call("list_runs", archived=True))["runs"]}
    assert names == {"main", "early", "next"}
    assert shown((await admin.call("replay_state", run="main", tick=7))["agents"]) == seen[7]
    v.assert_clean()


async def test_runs_box_follows_another_admins_changes(
    browser: Browser, town: Running, admin: TownClient
) -> None:
    """Forks, archives and deletions made by another admin client over the websocket show in an
    open Runs box by themselves (the `runs` push), without a click."""
    await admin.call("tick", count=2)
    v = await admin_page(browser, town)
    p = v.page
    await expect(row(p, "main")).to_have_class("open")
    loads = await p.evaluate("window.__runs.loads")
    await admin.call("fork_run", name="elsewhere")
    await expect(row(p, "elsewhere").locator(".run-lineage")).to_have_text("from main @ 2")
    assert await p.locator("#fork-source option").all_inner_texts() == ["main (open)", "elsewhere"]
    await admin.call("archive_run", name="elsewhere")
    await expect(row(p, "elsewhere")).to_have_class("archived")
    await admin.call("delete_run", name="elsewhere", confirm=True)
    await expect(row(p, "elsewhere")).to_have_count(0)
    await expect(p.locator("#fork-source option")).to_have_count(1)
    await until_runs(p, "r.loads >= arg + 3", loads)
    assert [r["name"] for r in await p.evaluate("window.__runs.runs()")] == ["main"]
    # a closed box loads nothing on a push; opening it loads the list as it is then
    await p.locator("#runs-box summary").click()
    await until_runs(p, "!r.shown")
    loads = await p.evaluate("window.__runs.loads")
    await admin.call("fork_run", name="later")
    await admin.call("tick")  # the page has had the push before this tick's
    await v.until("t.tick === 3")
    assert await p.evaluate("window.__runs.loads") == loads
    await p.locator("#runs-box summary").click()
    await expect(row(p, "later")).to_be_visible()
    # the Replay view's run picker follows too, and leaves a deleted run for the open one
    await p.locator("#btn-replay").click()
    await p.wait_for_function("() => window.__replay.open && window.__replay.loads >= 1")
    await p.locator("#replay-run").select_option("later")
    await p.wait_for_function("() => window.__replay.run === 'later' && window.__replay.loads >= 2")
    await admin.call("fork_run", name="third")
    await expect(p.locator("#replay-run option[value='third']")).to_have_count(1)
    await admin.call("delete_run", name="later", confirm=True)
    await expect(p.locator("#replay-run option[value='later']")).to_have_count(0)
    await p.wait_for_function("() => window.__replay.run === 'main'")
    v.assert_clean()


async def test_a_stale_row_shows_the_servers_refusal(
    browser: Browser, town: Running, admin: TownClient
) -> None:
    """A click made before the `runs` push arrives (here the push is held back on the way to the
    page) meets the server's refusal, shown under the run's row."""
    await admin.call("fork_run", name="early")
    ctx = await browser.new_context(viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]})
    page = await ctx.new_page()
    held: list[str | bytes] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(msg: str | bytes) -> None:
            if isinstance(msg, str) and msg.startswith('{"type":"runs"'):
                held.append(msg)
            else:
                ws.send(msg)

        server.on_message(from_server)

    await page.route_web_socket("**/ws", route)
    console = Console()
    console.attach(page)
    await page.goto(town.url)
    v = View(page, console)
    await v.until("t.syncs >= 1 && t.loaded")
    await login(v, token="test-admin-token")
    await page.locator("#runs-box summary").click()
    await until_runs(page, "r.shown && r.runs().some((x) => x.name === 'early')")
    await admin.call("archive_run", name="early")
    await admin.call("tick")  # pushed after the held `runs` push
    await v.until("t.tick === 1")
    assert len(held) == 1
    await row(page, "early").get_by_role("button", name="Open").click()
    await expect(row(page, "early").locator(".error")).to_contain_text("run 'early' is archived")
    assert town.services.runs is not None and town.services.runs.current == "main"
    v.assert_clean()


async def test_runs_box_is_the_admins_only(browser: Browser, town: Running) -> None:
    v = await open_page(browser, town.url)
    assert await v.page.locator("#runs-box").is_hidden()
    await login(v, player="Sam")
    assert await v.page.locator("#runs-box").is_hidden()
    v.assert_clean()


async def test_phone_opens_replay_and_jumps_to_a_tick(
    browser: Browser, town: Running, admin: TownClient
) -> None:
    seen: dict[int, dict[str, tuple[Any, ...]]] = {}
    for _ in range(5):
        await admin.call("tick")
        seen[town.services.world.clock.tick] = now(town)
    v = await open_page(browser, town.url, **PHONE)
    p = v.page
    btn = p.locator("#btn-replay")
    await expect(btn).to_be_visible()
    await btn.tap()
    await until_replay(p, "r.open && r.loads >= 1 && r.tick === 5")
    await p.locator("#replay-jump").fill("2")
    await p.locator("#replay-jump").press("Enter")
    await until_replay(p, "r.tick === 2")
    assert shown(await p.evaluate("window.__replay.agents()")) == seen[2]
    await expect(p.locator("#replay-where")).to_contain_text("tick 2 / 5")
    # the view fits the phone's width: the canvas scales, the controls wrap, nothing scrolls sideways
    canvas = await p.locator("#replay-canvas").bounding_box()
    assert canvas is not None and canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 390, canvas
    assert canvas["width"] > 300, "the canvas uses the phone's width"
    wide = await p.evaluate("""() => [...document.querySelectorAll('#replay-root *')]
        .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().right > 390.5)
        .map((e) => e.id || e.tagName)""")
    assert wide == [], wide
    small = await p.evaluate("""() => [...document.querySelectorAll('#replay-root button, #replay-root input, #replay-root select')]
        .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
        .map((e) => e.id || e.textContent.trim().slice(0, 20))""")
    assert small == [], small
    await p.locator("#replay-root").get_by_role("button", name="Close").tap()
    await until_replay(p, "!r.open")
    v.assert_clean()
