"""Issue 13, items 1, 3, 5 and 6: what "the same name", "the same id" and "the same player" mean,
on SQLite and on a real MariaDB (one of them with a latin1 default database)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from server.app import run_town
from server.client import CommandError, TownClient
from tests.conftest import ADMIN, fresh_mysql_url, make_settings, mysql_available, table_counts

AGENT: dict[str, Any] = {"bio": "b", "goal": "g", "cash": 7}


async def _refused(c: TownClient, command: str, **data: Any) -> CommandError:
    with pytest.raises(CommandError) as e:
        await c.call(command, **data)
    return e.value


async def test_lookalike_names_never_overwrite_another_agent(db_url: str) -> None:
    """Item 1: "René" beside "Rene" and "Café" beside "Cafe" are other agents with their own rows;
    "Bob Martin " and "bob  martin" are Bob Martin's name and refused. After a restart every
    agent is there with its own cash (MariaDB's general_ci key used to merge the rows)."""
    async with run_town(make_settings(db_url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        made = {}
        for name in ("Rene", "René", "Cafe", "Café"):
            made[name] = (await c.call("register", name=name, **AGENT))["agent"]["id"]
        for lookalike in ("Bob Martin ", "bob  martin", "BOB MARTIN"):
            assert (await _refused(c, "register", name=lookalike, **AGENT)).code == "conflict"
        before = {a.id: (a.name, a.cash) for a in r.services.world.agents.values()}
        c.close()
    assert len(set(made.values())) == 4
    async with run_town(make_settings(db_url)) as r2:
        after = {a.id: (a.name, a.cash) for a in r2.services.world.agents.values()}
        assert after == before
        assert r2.services.world.ledger.total() == 0
        for aid, (_, cash) in after.items():
            assert r2.services.world.ledger.balance(f"agent:{aid}") == cash


@pytest.mark.parametrize(
    "name",
    [
        "\u0410lice Chen",  # a Cyrillic A beside Latin letters
        "\uff21lice",  # a fullwidth A
        "Zoe" + "\u0301" * 30,  # thirty combining marks
        "   ",  # only whitespace
        "Bo\u200bb",  # a zero-width space
    ],
)
async def test_lookalike_names_are_refused(client: TownClient, name: str) -> None:
    """Item 1: names that could pass for another are refused with a clear error, as agent names
    and as player names, and nothing is stored."""
    await client.call("login", player="Pat", secret="Pat-secret")
    e = await _refused(client, "register", name=name, **AGENT)
    assert e.code in ("invalid_name", "invalid_request"), e
    e = await _refused(client, "login", player=name, secret="a-long-secret")
    assert e.code in ("invalid_name", "invalid_request"), e
    if name.strip() and "\u0301" not in name and "\u200b" not in name:
        assert e.code == "invalid_name" and name.strip() in e.message


def _mysql_latin1() -> str:
    import pymysql

    if not mysql_available():
        fresh_mysql_url()  # fails in CI, skips elsewhere
    name = f"t_{uuid.uuid4().hex[:12]}"
    c = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    with c.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    c.close()
    return f"mysql://root@127.0.0.1:3306/{name}"


def _collations(url: str) -> dict[str, str]:
    eng = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    with eng.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT table_name, table_collation FROM information_schema.tables WHERE table_schema = DATABASE()"
            )
        ).all()
    eng.dispose()
    return {r[0]: r[1] for r in rows}


@pytest.mark.mysql
async def test_latin1_database_stores_any_text() -> None:
    """Item 6: on a database whose default charset is latin1, every table is made utf8mb4 with
    the binary collation, and a bio of mathematical letters is stored and restored."""
    url = _mysql_latin1()
    bio = "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522 \u2014 caf\u00e9 \U0001f600"
    async with run_town(make_settings(url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        aid = (await c.call("register", name="Unicode Fan", bio=bio, goal="g"))["agent"]["id"]
        c.close()
    assert set(_collations(url).values()) == {"utf8mb4_bin"}
    async with run_town(make_settings(url)) as r2:
        assert r2.services.world.agents[aid].bio == bio


@pytest.mark.mysql
async def test_schema_4_database_is_migrated_to_utf8mb4_and_name_keys() -> None:
    """Item 1 and 6, the migration: a version-4 MariaDB town (latin1 tables, no name_key, no
    agent_ids) is converted on start, keeps its agents, and never reuses a deleted agent's id."""
    from config.settings import ROOT
    from server.db import schema
    from server.db.repository import Repository

    url = _mysql_latin1()
    async with run_town(make_settings(url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("delete_agent", agent_id="eva-novak")
        c.close()
        agents = sorted(r.services.world.agents)
    repo = await Repository.open(url, ROOT)  # back to version 4, as an older server left it
    async with repo.engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE agents DROP INDEX name_key, DROP COLUMN name_key")
        await conn.exec_driver_sql("DROP TABLE agent_ids")
        for tb in schema.metadata.sorted_tables:
            if tb.name != "agent_ids":
                await conn.exec_driver_sql(f"ALTER TABLE `{tb.name}` CONVERT TO CHARACTER SET latin1")
        await conn.execute(
            sa.update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="4")
        )
    await repo.close()
    assert "latin1_swedish_ci" in set(_collations(url).values())
    async with run_town(make_settings(url)) as r2:
        assert sorted(r2.services.world.agents) == agents
        c = await TownClient.connect(r2.ws_url)
        await c.call("login", token=ADMIN)
        again = (await c.call("register", name="Eva Novak", **AGENT))["agent"]["id"]
        assert again != "eva-novak"
        c.close()
    assert set(_collations(url).values()) == {"utf8mb4_bin"}


async def test_deleted_agent_id_is_never_reused(db_url: str) -> None:
    """Item 5: a stranger registering a deleted agent's name gets a new id, none of the old
    agent's chats or ledger, and still none of it after a restart."""
    async with run_town(make_settings(db_url)) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("chat_with_npc", agent_id="alice-chen", text="hello Alice")
        await c.call("delete_agent", agent_id="alice-chen")
        stranger = await TownClient.connect(r.ws_url)
        await stranger.call("login", player="Mallory", secret="Mallory-secret")
        new = (await stranger.call("register", name="Alice Chen", **AGENT))["agent"]
        assert new["id"] != "alice-chen"
        seen = await stranger.call("get_agent", agent_id=new["id"], memories=50, ledger=50)
        assert not seen.get("chats")
        assert [e["amount"] for e in seen["ledger"]] == [7]
        c.close()
        stranger.close()
    async with run_town(make_settings(db_url)) as r2:
        assert "alice-chen" not in r2.services.world.agents
        assert r2.services.world.agents[new["id"]].cash == 7
        assert not await r2.services.world.repo.rows("memories", where={"agent_id": new["id"]})
        c = await TownClient.connect(r2.ws_url)
        await c.call("login", token=ADMIN)
        await c.call("delete_agent", agent_id=new["id"])
        third = (await c.call("register", name="Alice Chen", **AGENT))["agent"]["id"]
        assert third not in ("alice-chen", new["id"])
        c.close()


async def test_player_name_needs_its_secret(sqlite_url: str) -> None:
    """Item 3: the first login claims a player name with its secret (stored as an Argon2id hash);
    another client cannot log in as that player without it, so cannot delete its agents."""
    async with run_town(make_settings(sqlite_url)) as r:
        alice = await TownClient.connect(r.ws_url)
        first = await alice.call("login", player="Alice", secret="alice-s3cret")
        assert first["claimed"] and first["role"] == "player"
        aid = (await alice.call("register", name="Alice Pet", **AGENT))["agent"]["id"]
        mallory = await TownClient.connect(r.ws_url)
        for who, secret in (("Alice", None), ("alice", "guess-guess"), (" ALICE ", "alice-s3cret-no")):
            e = await _refused(mallory, "login", player=who, **({"secret": secret} if secret else {}))
            assert e.code == "forbidden"
        assert (await mallory.call("info"))["role"] == "viewer"
        await mallory.call("login", player="Mallory", secret="mallory-secret")
        assert (await _refused(mallory, "delete_agent", agent_id=aid)).code == "forbidden"
        again = await TownClient.connect(r.ws_url)
        back = await again.call("login", player="alice", secret="alice-s3cret")
        assert back["player"] == "Alice" and not back["claimed"]
        await again.call("delete_agent", agent_id=aid)  # the same player, another connection
        for c in (alice, mallory, again):
            c.close()
        rows = await r.services.world.repo.rows("players", order="key")
    assert {x["key"] for x in rows} == {"alice", "mallory"}
    assert all(x["secret_hash"].startswith("$argon2id$") and "s3cret" not in x["secret_hash"] for x in rows)


async def test_player_agent_quota(sqlite_url: str) -> None:
    """Item 3: a player owns at most `limits.agents_per_player` agents; a refusal stores nothing."""
    async with run_town(make_settings(sqlite_url, limits={"agents_per_player": 2})) as r:
        c = await TownClient.connect(r.ws_url)
        await c.call("login", player="Pat", secret="Pat-secret")
        for i in range(2):
            await c.call("register", name=f"Pat Agent {i}", **AGENT)
        before = table_counts(sqlite_url)
        e = await _refused(c, "register", name="Pat Agent 2", **AGENT)
        assert e.code == "limit_reached" and "2 agents" in e.message
        assert table_counts(sqlite_url) == before
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        await admin.call("register", name="Town Agent", **AGENT)  # the admin has no quota
        c.close()
        admin.close()


async def test_deleted_mayors_escrow_is_not_paid_to_a_stranger_of_the_same_name(sqlite_url: str) -> None:
    """Item 5: a mayor agent's escrowed reward, returned when its task expires after the mayor was
    deleted, goes to `sink:consumption`, not to a stranger who registered the mayor's name."""
    async with run_town(make_settings(sqlite_url)) as r:
        admin = await TownClient.connect(r.ws_url)
        await admin.call("login", token=ADMIN)
        await admin.call(
            "post_task",
            mayor="eva-novak",
            task={
                "title": "spread a rumour",
                "reward": 30,
                "deadline_ticks": 1,
                "condition": {"type": "knows_fact", "fact": "the moon is made of green cheese", "count": 99},
            },
        )
        await admin.call("delete_agent", agent_id="eva-novak")
        stranger = await TownClient.connect(r.ws_url)
        await stranger.call("login", player="Mallory", secret="Mallory-secret")
        new = (await stranger.call("register", name="Eva Novak", **AGENT))["agent"]["id"]
        await admin.call("tick", count=3)
        (task,) = (await admin.call("list_tasks"))["tasks"]
        assert task["status"] == "expired"
        w = r.services.world
        assert new != "eva-novak" and w.agents[new].cash == 7
        assert w.ledger.balance(f"agent:{new}") == 7 and w.ledger.total() == 0
        admin.close()
        stranger.close()


def test_names_in_one_script_are_welcome() -> None:
    """Item 1: the lookalike rules refuse mixed scripts, not other scripts: Japanese mixing Han
    and kana, Korean, Greek, accents and apostrophes pass, tidied; their keys fold case and space."""
    from server.world.names import check_name, name_key

    for name in ("山田 太郎", "ラーメン 太郎", "김 철수", "Αλέξης", "Zoë O'Neil", "René  Dupont "):
        assert check_name(name) == " ".join(name.split())
    assert name_key(" Bob\tMARTIN ") == name_key("bob martin") != name_key("Bob Martín")
    assert name_key("STRASSE") == name_key("straße")


@pytest.mark.mysql
async def test_text_the_database_cannot_take_is_a_clear_refusal() -> None:
    """Item 6: should a table still refuse a text (here one an operator turned back to latin1),
    the command is refused with `unstorable`, never `internal_error`, and nothing is stored."""
    url = _mysql_latin1()
    async with run_town(make_settings(url)) as r:
        eng = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
        with eng.begin() as c:
            c.execute(sa.text("ALTER TABLE agents CONVERT TO CHARACTER SET latin1"))
        eng.dispose()
        c2 = await TownClient.connect(r.ws_url)
        await c2.call("login", token=ADMIN)
        before = table_counts(url)
        e = await _refused(c2, "register", name="Emoji Fan", bio="\U0001f600 \U0001d518", goal="g")
        assert e.code == "unstorable", e
        assert table_counts(url) == before and "emoji-fan" not in r.services.world.agents
        assert (await c2.call("register", name="Plain Fan", bio="plain", goal="g"))["agent"]["id"]
        c2.close()
