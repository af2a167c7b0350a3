"""Agents perceive a player's avatar like a person in sight: one starts a conversation with it,
the player answers in that conversation, the agent replies on its turn, remembers the talk and
knows the news it was told; walking away ends the conversation. Over the websocket, with the
offline scripted model."""

from __future__ import annotations

from typing import Any

from server.app import Running
from server.client import TownClient

NEWS = "the bridge north of the park reopens on Friday"


async def _tick_until(admin: TownClient, watcher: TownClient, pred: Any, limit: int) -> list[dict[str, Any]]:
    """Tick until a pushed event satisfies `pred`; the tick pushes' events so far."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        await admin.call("tick", step=True)
        push = (await watcher.next_push("tick"))["data"]
        seen.extend(push["events"])
        if any(pred(ev) for ev in push["events"]):
            return seen
    raise AssertionError(f"nothing matched in {limit} ticks; kinds seen: {sorted({e['kind'] for e in seen})}")


async def test_agent_talks_with_avatar_who_answers_then_walks_away(town: Running, admin: TownClient) -> None:
    pat = await TownClient.connect(town.ws_url)
    await pat.call("login", player="pat", secret="pat-secret")
    await pat.call("subscribe")
    w = town.services.world
    me = (await pat.call("join", name="Pat Visitor", at="cafe"))["agent"]["id"]
    events = await _tick_until(admin, pat, lambda ev: ev["kind"] == "chat" and ev["other_id"] == me, 400)
    opening = next(ev for ev in events if ev["kind"] == "chat" and ev["other_id"] == me)
    agent_id, cid = opening["agent_id"], opening["conversation_id"]
    assert w.agents[me].conversation == cid and w.agents[agent_id].conversation == cid
    assert w.agents[agent_id].avatar is False
    said = await pat.call("say", text="Hello! Did you hear?", news=NEWS)
    assert said == {"conversation_id": cid, "ended": False}
    line = (await pat.next_push("line"))["data"]
    assert line["conversation_id"] == cid and line["agent_id"] == me
    assert NEWS in w.agents[agent_id].news  # it may pass the news on
    await _tick_until(
        admin,
        pat,
        lambda ev: ev["kind"] == "chat" and ev["agent_id"] == agent_id and ev["conversation_id"] == cid,
        5,
    )
    if cid in w.conversations:  # the agent did not say goodbye: the player walks away
        await pat.call("move_to", building_id="park")
    assert cid not in w.conversations
    assert w.agents[agent_id].conversation is None and w.agents[me].conversation is None
    assert me in w.agents[agent_id].acquaintances  # it knows the avatar from now on
    mem = await admin.call("get_agent", agent_id=agent_id)
    talked = [m["text"] for m in mem["memories"] if m["kind"] == "conversation"]
    assert any("Pat Visitor" in t and NEWS in t for t in talked)
    # and it passes the news on to others in conversations of theirs (a game half day at most)
    others: list[str] = []
    for _ in range(3000):  # it meets others at lunch (1307 ticks on, with the offline model)
        await admin.call("tick", step=True)
        await pat.next_push("tick")  # the avatar's player keeps reading its pushes
        others = [a.id for a in w.agents.values() if a.id not in (me, agent_id) and NEWS in a.news]
        if others:
            break
    assert others, "nobody heard the news from the agent"
    pat.close()
