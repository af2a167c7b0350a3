"""Restarting the server restores every agent, building, balance and ledger entry — on SQLite
and on MySQL."""

from __future__ import annotations

from server.app import run_town
from server.client import TownClient
from tests.conftest import ADMIN, make_settings


async def test_restart_restores_town(db_url: str) -> None:
    async with run_town(make_settings(db_url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        a = (await c.call("register", name="Rae Stone", bio="b", goal="g", cash=700))["agent"]
        b = (await c.call("create_building", template="stall", x=42, y=12, payer=a["id"]))["building"]
        before_town = await c.call("get_town")
        before_ledger = (await c.call("get_agent", agent_id=a["id"]))["ledger"]
        c.close()
        w = r.services.world
        balances = dict(w.ledger.accounts())
        assert w.ledger.total() == 0
    async with run_town(make_settings(db_url)) as r2:
        c = await TownClient.connect(r2.ws_url)
        after_town = await c.call("get_town")
        assert after_town["agents"] == before_town["agents"]
        assert after_town["buildings"] == before_town["buildings"]
        assert any(x["id"] == b["id"] for x in after_town["buildings"])
        assert (await c.call("get_agent", agent_id=a["id"]))["ledger"] == before_ledger
        assert r2.services.world.ledger.accounts() == balances
        assert not r2.services.world.grid.walkable(43, 12)
        c.close()
