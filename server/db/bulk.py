"""Batch writes: each table's multi-row INSERT (or upsert) compiled once per dialect, and the
plain batch writer that hands a statement and its rows to the driver's executemany (the driver
binds the parameters). The hand-written MySQL fast path is in `server/db/mysql_literals.py`."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def tuples(rows: Sequence[Any], keys: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Each row's values at `keys` (dict keys or tuple positions), as tuples (`itemgetter`
    picks them in C: 6,000 rows a tick)."""
    pick = operator.itemgetter(*keys)
    if len(keys) == 1:
        return [(pick(r),) for r in rows]
    return list(map(pick, rows))


@functools.lru_cache(maxsize=512)
def _compiled(
    dialect: Any, table: sa.Table, cols: tuple[str, ...], upsert_key: str | None
) -> tuple[str, tuple[int, ...] | None]:
    """The multi-row INSERT of `cols` into `table`, compiled for `dialect` once per process (0.1
    to 0.2 ms each, several a commit), and where each parameter sits in a row of `cols` (None:
    in that order). With `upsert_key` it is an upsert by that primary key: MySQL `INSERT ... ON
    DUPLICATE KEY UPDATE`, SQLite `INSERT ... ON CONFLICT DO UPDATE`."""
    stmt: Any
    if upsert_key is None:
        stmt = sa.insert(table)
    elif dialect.name == "mysql":
        stmt = mysql.insert(table)
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in cols if c != upsert_key})
    else:
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[upsert_key], set_={c: stmt.excluded[c] for c in cols if c != upsert_key}
        )
    compiled = stmt.compile(dialect=dialect, column_keys=list(cols))
    order = list(compiled.positiontup or ())
    if sorted(order) != sorted(cols):
        raise AssertionError(f"{table.name}: compiled parameters {order} are not the columns {list(cols)}")
    # the statement lists columns in table order
    return compiled.string, None if order == list(cols) else tuple(cols.index(c) for c in order)


def compile_rows(
    conn: AsyncConnection,
    table: sa.Table,
    cols: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    upsert_key: str | None,
) -> tuple[str, list[tuple[Any, ...]]]:
    """The statement for the connection's dialect, and the rows in its parameter order."""
    sql, order = _compiled(conn.dialect, table, cols, upsert_key)
    return sql, rows if order is None else tuples(rows, order)


class Bulk:
    """Runs one batch's multi-row INSERTs on one connection, in order.

    This base class hands each statement and its rows to the driver's executemany as plain
    tuples (compiled once; SQLAlchemy's per-row parameter processing is a quarter of a 6,000-row
    tick's client CPU). The values are Python ints, floats, strs, bytes, bools and None, which
    both drivers take as is. `open` picks `PipelinedMySQL` on MySQL unless told not to."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @staticmethod
    async def open(conn: AsyncConnection, *, fast_literals: bool = True) -> Bulk:
        """The batch writer for the connection: on MySQL with `fast_literals`, the pipelined one
        that quotes values itself (`server/db/mysql_literals.py`); otherwise this one, where the
        driver binds the parameters."""
        if fast_literals and conn.dialect.name == "mysql":
            from server.db.mysql_literals import PipelinedMySQL

            raw = await conn.get_raw_connection()
            return PipelinedMySQL(conn, raw.driver_connection)
        return Bulk(conn)

    async def many(
        self,
        table: sa.Table,
        cols: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        upsert_key: str | None = None,
    ) -> None:
        """Insert (or upsert by `upsert_key`) the rows, values in the order of `cols`."""
        if rows:
            sql, rows = compile_rows(self.conn, table, cols, rows, upsert_key)
            await self.conn.exec_driver_sql(sql, rows)

    async def flush(self) -> None:
        """Wait until every statement handed over has run; raise the first failure."""

    async def drain(self) -> None:
        """Wait until nothing is in flight, swallowing failures (the caller is failing already)."""
