"""Every row of every table of a town database, read synchronously (for 'nothing changed at all'
and 'these two runs agree' assertions)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.db import schema


def table_rows(url: str, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, except the columns named `table.column` in `skip`."""
    if url.startswith("sqlite"):
        eng = sa.create_engine("sqlite:///" + url.split(":///", 1)[1])
    else:
        eng = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    out: dict[str, list[tuple[Any, ...]]] = {}
    with eng.connect() as c:
        for t in schema.metadata.sorted_tables:
            cols = [col for col in t.columns if f"{t.name}.{col.name}" not in skip]
            if not cols:
                continue
            out[t.name] = sorted(map(tuple, c.execute(sa.select(*cols)).all()), key=repr)
    eng.dispose()
    return out
