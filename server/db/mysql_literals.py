"""The MySQL fast path for batch writes (setting `db_fast_literals`, on by default): values are
quoted here, as aiomysql's `escape` would, and each statement is built while the server runs the
one before. With the setting off, `server/db/bulk.Bulk` lets the driver bind the parameters."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.bulk import Bulk, compile_rows


class PipelinedMySQL(Bulk):
    """Multi-row INSERTs whose text is built while the server runs the previous statement.

    aiomysql's executemany escapes every value in Python (about 80 ms for a 1,000-agent tick)
    and only then sends the statement and waits for the server (about as long again): the two
    costs add up. Here the rows are turned into the literals aiomysql's `escape` gives (by value
    type, `_literals`; strings with `str.replace`, five times faster than the driver's per-character
    `translate` on an agent's row) and fitted into aiomysql's own split of the statement into
    prefix, row template and postfix, cut into statements of at most `max_statement` bytes; each
    statement is queued to run after the one before. Building the next statement goes on
    (yielding to the event loop every 8 KB) while the server works, so the tick costs about the
    larger of the two."""

    max_statement = 256 * 1024
    _yield_every = 8 * 1024

    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        super().__init__(conn)
        self._driver = driver
        self._tail: asyncio.Future[None] | None = None

    async def many(
        self,
        table: sa.Table,
        cols: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        upsert_key: str | None = None,
    ) -> None:
        if not rows:
            return
        from aiomysql.cursors import RE_INSERT_VALUES

        sql, rows = compile_rows(self.conn, table, cols, rows, upsert_key)
        m = RE_INSERT_VALUES.match(sql)
        if m is None:
            raise AssertionError(f"not a multi-row INSERT: {sql[:80]}")
        enc = self._driver.encoding
        prefix, template = (m.group(1) % ()).encode(enc), m.group(2).rstrip()
        postfix = (m.group(3) or "").encode(enc)
        literal = _literals(self._driver).get
        fallback = self._driver.escape
        buf, built = bytearray(prefix), 0
        for row in rows:
            v = (template % tuple([literal(type(x), fallback)(x) for x in row])).encode(
                enc, "surrogateescape"
            )
            if len(buf) > len(prefix):
                if len(buf) + len(v) + len(postfix) + 1 > self.max_statement:
                    self._queue(bytes(buf + postfix))
                    buf = bytearray(prefix)
                else:
                    buf += b","
            buf += v
            built += len(v)
            if built >= self._yield_every:  # let the loop send what is queued and read answers
                built = 0
                await asyncio.sleep(0)
        self._queue(bytes(buf + postfix))

    def _queue(self, sql: bytes) -> None:
        self._tail = asyncio.ensure_future(self._run(self._tail, sql))

    async def _run(self, before: asyncio.Future[None] | None, sql: bytes) -> None:
        if before is not None:
            await before  # a failure there fails this one too, unsent
        import pymysql

        try:
            await self._driver.query(sql)
        except pymysql.err.Error as e:  # as SQLAlchemy would raise it (exc.OperationalError, ...)
            raise exc.DBAPIError.instance(
                sql[:200].decode(errors="replace"), None, e, pymysql.err.Error, dialect=self.conn.dialect
            ) from e

    async def flush(self) -> None:
        tail, self._tail = self._tail, None
        if tail is not None:
            await tail

    async def drain(self) -> None:
        tail, self._tail = self._tail, None
        if tail is not None:
            await asyncio.gather(tail, return_exceptions=True)


# What the driver's `escape_string` does to a str (PyMySQL's escape table), as C-speed replaces:
# `str.translate` with that table maps character by character, 37 us for an agent's 800-character
# row where these replaces take 7. The backslash goes first, so the backslashes added after are
# not doubled.
_BACKSLASH_ESCAPES = (
    ("\\", "\\\\"),
    ("\0", "\\0"),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\032", "\\Z"),
    ('"', '\\"'),
    ("'", "\\'"),
)


def _quote(s: str) -> str:
    for char, escaped in _BACKSLASH_ESCAPES:
        s = s.replace(char, escaped)
    return "'" + s + "'"


def _quote_no_backslash(s: str) -> str:  # sql_mode NO_BACKSLASH_ESCAPES: only quotes are doubled
    return "'" + s.replace("'", "''") + "'"


class _Quoted(dict[str, str]):
    """Quoted short strings, made on a miss. Agent ids, names, kinds and models come back
    thousands of times a tick (an agent's id is in its row, its ledger entries, memories and
    every LLM call); a hit costs a dict lookup. Emptied when it reaches `limit` entries."""

    limit = 50_000

    def __init__(self, quote: Any) -> None:
        super().__init__()
        self.quote = quote

    def __missing__(self, s: str) -> str:
        q: str = self.quote(s)
        if len(s) <= 80:
            if len(self) >= self.limit:
                self.clear()
            self[s] = q
        return q


_QUOTED = {False: _Quoted(_quote), True: _Quoted(_quote_no_backslash)}


def _literals(driver: Any) -> dict[type, Any]:
    """SQL literals by exact value type, each the text the driver's `escape` gives; any other
    type goes to `escape` itself. Looked up per batch: the connection's sql_mode decides how
    strings are quoted."""
    from pymysql.constants import SERVER_STATUS
    from pymysql.converters import escape_float

    no_backslash = bool(driver.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)
    return {
        str: _QUOTED[no_backslash].__getitem__,
        int: str,
        float: escape_float,
        bool: lambda v: "1" if v else "0",
        type(None): lambda _: "NULL",
    }
