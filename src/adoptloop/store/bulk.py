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
from operator import itemgetter
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


def insert_tuples(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """insert_many with each row a tuple of the values of `columns`, in that order (no
    mapping per row; where the driver takes the same order and no value needs converting,
    the tuples go to it as they are)."""
    if rows:
        key = (table, tuple(columns))
        plan = _PLANS.get((key, conn.dialect))
        if plan is None:
            statement = table.insert().values({c: bindparam(c) for c in columns})
            plan = _plan(conn, statement, {c: table.c[c] for c in columns})
            if len(_PLANS) < 64:
                _PLANS[(key, conn.dialect)] = plan
        _execute_tuples(conn, plan, columns, rows)


def update_tuples(
    conn: Connection,
    table: Table,
    where: ColumnElement[bool],
    columns: Sequence[str],
    fields: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """update_many with each row a tuple of the values of the parameters `fields` (`_<column>`
    for each of `columns`, and the bind parameters of `where`), in that order."""
    if rows:
        statement = table.update().where(where).values({c: bindparam(f"_{c}") for c in columns})
        plan = _plan(conn, statement, {f"_{c.name}": c for c in table.columns})
        _execute_tuples(conn, plan, fields, rows)


# compiled SQL, positional?, its parameter names in order, each one's bind processor or None
_Plan = tuple[str, bool, list[str], list[Callable[[Any], Any] | None]]
_PLANS: dict[tuple[Any, Any], _Plan] = {}  # insert_tuples' plans by (table, columns), dialect


def _plan(conn: Connection, statement: Any, typed: Mapping[str, Any]) -> _Plan:
    compiled = statement.compile(dialect=conn.dialect)
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        column = typed.get(name)
        processors.append(column.type.bind_processor(conn.dialect) if column is not None else None)
    return compiled.string, bool(compiled.positional), names, processors


def _execute_tuples(
    conn: Connection, plan: _Plan, fields: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    sql, positional, names, processors = plan
    order = [list(fields).index(n) for n in names]
    converted = [(k, p) for k, p in enumerate(processors) if p is not None]
    in_order = order == list(range(len(fields)))
    params: list[Any]
    if positional and in_order and not converted:
        params = rows if isinstance(rows, list) else list(rows)
    else:
        params = []
        # a column's values repeat (a flag, a visit date): each distinct one is converted once
        done: list[dict[tuple[type, Any], Any]] = [{} for _ in converted]
        for row in rows:
            values = list(row) if in_order else [row[i] for i in order]
            for (k, p), memo in zip(converted, done, strict=True):
                value = values[k]
                if value is not None:
                    values[k] = _converted(p, memo, value)
            params.append(tuple(values) if positional else dict(zip(names, values, strict=True)))
    conn.exec_driver_sql(sql, params)


def _converted(
    process: Callable[[Any], Any], memo: dict[tuple[type, Any], Any], value: Any
) -> Any:
    """`process(value)`, remembered in `memo` by the value and its type (True and 1 are
    equal, and convert differently)."""
    try:
        key = (value.__class__, value)
        return memo[key]
    except KeyError:
        memo[key] = process(value)
        return memo[key]
    except TypeError:  # an unhashable value (a JSON column's dict): not remembered
        return process(value)


def _execute_many(
    conn: Connection,
    statement: Any,
    rows: Sequence[Mapping[str, Any]],
    typed: Mapping[str, Any],
) -> None:
    plan = _plan(conn, statement, typed)
    names = plan[2]
    take = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    _execute_tuples(conn, plan, names, [take(row) for row in rows])
