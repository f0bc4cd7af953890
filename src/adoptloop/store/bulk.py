"""Many-row INSERT and UPDATE straight through the driver's executemany.

SQLAlchemy Core's executemany builds a dictionary per row and runs it through its generic
parameter processing, which costs more than SQLite's own insert for the hundreds of thousands
of rows a backfill writes. These helpers compile the statement once per call with the
connection's dialect (so the SQL and the parameter style are the driver's own, on SQLite and
PostgreSQL alike), convert only the values whose column type needs it for that dialect (the
type's own bind processor, e.g. a date on SQLite), and hand the rows to the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.sql.elements import ColumnElement


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT `rows` (mappings with at least `columns`) into `table`."""
    if rows:
        statement = table.insert().values({c: bindparam(c) for c in columns})
        _execute_many(conn, statement, rows, {c: table.c[c] for c in columns})


def update_many(
    conn: Connection,
    table: Table,
    where: ColumnElement[bool],
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """UPDATE `table` SET each of `columns` to the row's `_<column>` WHERE `where`, whose bind
    parameters (named `_<column>` for a column of `table`, else passed as they are) the rows
    also carry."""
    if rows:
        statement = table.update().where(where).values({c: bindparam(f"_{c}") for c in columns})
        typed = {f"_{c.name}": c for c in table.columns}
        _execute_many(conn, statement, rows, typed)


def _execute_many(
    conn: Connection,
    statement: Any,
    rows: Sequence[Mapping[str, Any]],
    typed: Mapping[str, Any],
) -> None:
    compiled = statement.compile(dialect=conn.dialect)
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        column = typed.get(name)
        processors.append(column.type.bind_processor(conn.dialect) if column is not None else None)
    params: list[Any]
    if not any(processors):
        if compiled.positional:
            params = [tuple(row[n] for n in names) for row in rows]
        else:
            params = [{n: row[n] for n in names} for row in rows]
    else:
        pairs = list(zip(names, processors, strict=True))
        values = [
            [row[n] if p is None or row[n] is None else p(row[n]) for n, p in pairs] for row in rows
        ]
        if compiled.positional:
            params = [tuple(v) for v in values]
        else:
            params = [dict(zip(names, v, strict=True)) for v in values]
    conn.exec_driver_sql(compiled.string, params)
