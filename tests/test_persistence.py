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


async def test_database_of_schema_1_is_migrated_on_start(db_url: str) -> None:
    """A town saved by the first schema (llm_calls without cost_usd) starts, keeps its rows and
    meters costs from then on."""
    import sqlalchemy as sa

    from config.settings import ROOT
    from server.db import schema
    from server.db.repository import Repository

    async with run_town(make_settings(db_url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("tick", count=2)
        c.close()
    repo = await Repository.open(db_url, ROOT)  # back to schema 1, as an old server left it
    async with repo.engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE llm_calls DROP COLUMN cost_usd")
        await conn.execute(sa.update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="1"))
    calls_before = await repo.count("llm_calls")
    await repo.close()
    assert calls_before > 0
    async with run_town(make_settings(db_url)) as r2:
        c = await TownClient.connect(r2.ws_url)
        await c.call("login", token=ADMIN)
        assert (await c.call("tick", count=8))["tick"] == 10  # agents plan again: new llm_calls rows
        c.close()
        rows = await r2.services.world.repo.rows("llm_calls")
        version = await r2.services.world.repo.rows("meta", where={"key": "schema_version"}, order="key")
    assert len(rows) > calls_before and all(x["cost_usd"] == 0 for x in rows)  # the scripted model is unpriced
    assert version[0]["value"] == str(schema.SCHEMA_VERSION)
