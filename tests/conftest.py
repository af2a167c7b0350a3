"""Shared fixtures: real servers on free ports, websocket clients, both database backends."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from config.settings import Settings
from server.app import Running, run_town
from server.client import TownClient

MYSQL_URL = os.environ.get("TOWN_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")
ADMIN = "test-admin-token"


def mysql_available() -> bool:
    try:
        import pymysql

        pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", database="test", connect_timeout=2
        ).close()
        return True
    except Exception:
        return False


def _mysql_db(name: str) -> str:
    """A fresh MySQL database for one test."""
    import pymysql

    c = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    with c.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    c.close()
    return f"mysql://root@127.0.0.1:3306/{name}"


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and on MySQL. In CI MySQL must be there."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'town.sqlite3'}"
    return fresh_mysql_url()


def fresh_mysql_url() -> str:
    """A new empty MySQL database; in CI an unreachable server fails the test instead of skipping."""
    if not mysql_available():
        if os.environ.get("CI"):
            pytest.fail("MySQL at 127.0.0.1:3306 is unreachable, and CI requires the MySQL tests")
        pytest.skip("MySQL unreachable (set CI=1 to make this a failure)")
    return _mysql_db(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def mysql_url() -> str:
    """For tests of MySQL-only behaviour."""
    return fresh_mysql_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'town.sqlite3'}"


# Tests drive ticks in loops as fast as the town answers, and on a fast machine a small town
# answers well over the default 50 commands per second: a test's speed must not decide whether
# it is rate limited. The rate limit's own tests set theirs.
TEST_RATE = {"commands_per_second": 10_000, "command_burst": 10_000}


def make_settings(db: str, **kw: Any) -> Settings:
    """Settings for a test town on port 0; `limits` given are added to `TEST_RATE`."""
    base: dict[str, Any] = {"db": db, "port": 0, "admin_token": ADMIN, "log_level": "WARNING"}
    base.update(kw)
    base["limits"] = {**TEST_RATE, **kw.get("limits", {})}
    return Settings(**base)


@pytest.fixture
async def town(sqlite_url: str) -> AsyncIterator[Running]:
    """The default town on SQLite, serving on a free port."""
    async with run_town(make_settings(sqlite_url)) as r:
        yield r


@pytest.fixture
async def client(town: Running) -> AsyncIterator[TownClient]:
    c = await TownClient.connect(town.ws_url)
    yield c
    c.close()


@pytest.fixture
async def admin(town: Running) -> AsyncIterator[TownClient]:
    c = await TownClient.connect(town.ws_url)
    await c.call("login", token=ADMIN)
    yield c
    c.close()


class _FailOnErrorLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_error_logs(request: pytest.FixtureRequest) -> Any:
    """Unexpected error logs fail the test; tests that provoke errors mark `allow_error_logs`."""
    h = _FailOnErrorLogs()
    logging.getLogger().addHandler(h)
    yield h
    logging.getLogger().removeHandler(h)
    if request.node.get_closest_marker("allow_error_logs") is None and h.records:
        msgs = "\n".join(f"{r.name}: {r.getMessage()}" for r in h.records[:5])
        pytest.fail(f"unexpected error logs:\n{msgs}")


def table_counts(url: str) -> dict[str, int]:
    """Row counts of every table, read synchronously (for 'nothing changed' assertions)."""
    from server.db import schema

    if url.startswith("sqlite"):
        eng = sa.create_engine("sqlite:///" + url.split(":///", 1)[1])
    else:
        eng = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    with eng.connect() as c:
        out = {
            t.name: c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in schema.metadata.sorted_tables
        }
    eng.dispose()
    return out
