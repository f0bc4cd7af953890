"""Many-row INSERT and UPDATE straight through the driver's executemany.

SQLAlchemy Core's executemany runs every parameter set through its bind processing, which
costs more than SQLite's own insert for the hundreds of thousands of rows a backfill writes.
These helpers compile the statement once per call with the connection's dialect (so the SQL
and the parameter style are the driver's own, on SQLite and PostgreSQL alike) and hand the
rows to the driver as they are. They are only for columns whose Python values every driver
takes unchanged: str, int, float, bool and None (no dates, no JSON).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.sql.elements import ColumnElement


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT `rows` (mappings with at least `columns`) into `table`."""
    if rows:
        statement = table.insert().values({c: bindparam(c) for c in columns})
        _execute_many(conn, statement, rows)


def update_many(
    conn: Connection,
    table: Table,
    where: ColumnElement[bool],
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """UPDATE `table` SET each of `columns` to the row's `_<column>` WHERE `where`, whose bind
    parameters (named `_<something>`) the rows also carry."""
    if rows:
        statement = table.update().where(where).values({c: bindparam(f"_{c}") for c in columns})
        _execute_many(conn, statement, rows)


def _execute_many(conn: Connection, statement: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    compiled = statement.compile(dialect=conn.dialect)
    params: list[Any]
    if compiled.positional:
        names = list(compiled.positiontup or ())
        params = [tuple(row[n] for n in names) for row in rows]
    else:
        names = list(compiled.binds)
        params = [{n: row[n] for n in names} for row in rows]
    conn.exec_driver_sql(compiled.string, params)
