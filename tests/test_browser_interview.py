"""Interviewing an agent from the browser's inspector against the real server: its owner and the
admin ask and see the answer with the model calls it took; nothing is stored (every table's rows
and the agent's memory are as they were), nothing joins the chat log or shows as a bubble; other
players and viewers get no form. Every wait is on page state."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from server.app import Running
from tests.browser_helpers import chromium
from tests.db_rows import table_rows
from tests.test_browser import WAIT_MS, View, create_agent, login, open_page
from tests.test_interview import memory_state

pytestmark = pytest.mark.browser

COST = re.compile(r"^(\d+) model calls? · (\d+) tokens.* · nothing stored$")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


def run_url(town: Running) -> str:
    """The database URL of the open run."""
    runs = town.services.runs
    assert runs is not None
    return runs.url(runs.current)


async def inspect(v: View, agent_id: str, name: str) -> None:
    await v.page.locator(f"[data-agent-id='{agent_id}']").click()
    await expect(v.page.locator("#inspector-h")).to_have_text(name, timeout=WAIT_MS)


async def interview(v: View, town: Running, agent_id: str, name: str, question: str) -> None:
    """Ask from the inspector; check the answer shows and that nothing was stored or chatted."""
    p = v.page
    form = p.locator("#interview-form")
    await expect(form).to_be_visible()
    await expect(form).to_contain_text("stores nothing")
    db_before, mem_before = table_rows(run_url(town)), memory_state(town, agent_id)
    asked = await p.evaluate("window.__interview.asked")
    await p.get_by_label(f"Question for {name}").fill(question)
    await form.get_by_role("button", name="Ask").click()
    await p.wait_for_function("(n) => window.__interview.asked > n", arg=asked, timeout=WAIT_MS)
    answer = p.locator("#interview-answer .interview-a")
    await expect(answer).to_contain_text(f"{name}: ")
    await expect(answer).to_contain_text(name)
    await expect(answer).to_have_attribute("data-failed", "false")
    await expect(p.locator("#interview-answer .interview-q")).to_have_text(f"Q: {question}")
    cost = COST.match(await p.locator("#interview-answer .interview-cost").inner_text())
    assert cost is not None and int(cost[1]) >= 1 and int(cost[2]) > 0, cost
    await expect(p.locator("#interview-error")).to_be_empty()
    # stored nowhere: not in the database, not in the agent's memory; not in the chat, no bubble
    assert table_rows(run_url(town)) == db_before, "the interview changed the database"
    assert memory_state(town, agent_id) == mem_before, "the interview changed the agent's memory"
    await expect(p.locator("#chat-log li")).to_have_count(0)
    assert not await p.evaluate("(id) => window.__town.bubbles().some((b) => b.agent_id === id)", agent_id)


async def test_owner_and_admin_interview_from_the_inspector(browser: Browser, town: Running) -> None:
    w = town.services.world
    owner = await open_page(browser, town.url)
    await login(owner, player="Ana")
    await create_agent(owner, "Nora Quill", plan="daily", memory="stream")
    await expect(owner.page.locator("#register-ok")).to_contain_text("Nora Quill", timeout=WAIT_MS)
    nora = next(a for a in w.agents.values() if a.name == "Nora Quill")
    await expect(owner.page.locator("#inspector-h")).to_have_text("Nora Quill")  # created: inspected

    # an empty question: the server's refusal shows beside the form, nothing else happens
    await owner.page.locator("#interview-form").get_by_role("button", name="Ask").click()
    await expect(owner.page.locator("#interview-error")).to_contain_text("question", timeout=WAIT_MS)
    await expect(owner.page.locator("#interview-answer")).to_be_empty()

    await interview(owner, town, nora.id, "Nora Quill", "Who are you, and what do you want?")

    # the owner's form is for its own agents only
    preset = sorted((a for a in w.agents.values() if a.owner is None), key=lambda a: a.id)[0]
    await inspect(owner, preset.id, preset.name)
    await expect(owner.page.locator("#interview-form")).to_be_hidden()

    # the admin may interview any agent, its own or a player's
    admin = await open_page(browser, town.url)
    await login(admin, token="test-admin-token")
    await inspect(admin, preset.id, preset.name)
    await interview(admin, town, preset.id, preset.name, "What did you do today?")
    await inspect(admin, nora.id, "Nora Quill")
    await expect(admin.page.locator("#interview-answer")).to_be_empty()  # a fresh form per agent
    await interview(admin, town, nora.id, "Nora Quill", "What do you remember?")

    # another player and a viewer see no interview form, the chat box stays theirs
    other = await open_page(browser, town.url)
    await login(other, player="Bo")
    await inspect(other, nora.id, "Nora Quill")
    await expect(other.page.locator("#chat-form")).to_be_visible()
    await expect(other.page.locator("#interview-form")).to_be_hidden()
    viewer = await open_page(browser, town.url)
    await inspect(viewer, nora.id, "Nora Quill")
    await expect(viewer.page.locator("#interview-form")).to_be_hidden()
    for v in (owner, admin, other, viewer):
        v.assert_clean()
