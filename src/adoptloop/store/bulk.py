"""Many-row INSERT, UPDATE and keyed SELECT straight through the driver.

SQLAlchemy Core's executemany builds a dictionary per row and runs it through its generic
parameter processing, which costs more than SQLite's own insert for the hundreds of thousands
of rows a backfill writes. These helpers compile the statement once per call with the
connection's dialect (so the SQL and the parameter style are the driver's own, on SQLite and
PostgreSQL alike), convert only the values whose column type needs it for that dialect (the
type's own bind processor, e.g. a date on SQLite), and hand the rows to the driver.
`rows_in` reads the rows whose key is one of a batch's keys with one statement written in the
driver's own placeholders: SQLAlchemy would render and bind an `IN` list of thousands of
parameters anew for every batch. `one_of` is the same condition for a Core statement: on
PostgreSQL one array parameter, not a list of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ARRAY, Connection, Select, Table, any_, bindparam
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT `rows` (mappings with at least `columns`) into `table`."""
    if rows:
        take = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
        insert_tuples(conn, table, columns, [take(row) for row in rows])


def driver_rows(
    conn: Connection, statement: Select[Any], *, size: int = 5000
) -> Iterator[Sequence[Any]]:
    """The rows of a SELECT, streamed `size` at a time. On SQLite the driver's own tuples:
    no Row and no conversion of values per row (a date comes as its ISO text, as stored: the
    caller converts what it needs, once per distinct value); elsewhere, or with an IN list,
    SQLAlchemy's rows, typed (`yield_per`: a server-side cursor on PostgreSQL)."""
    compiled = statement.compile(dialect=conn.dialect)
    if conn.dialect.name != "sqlite" or any(b.expanding for b in compiled.binds.values()):
        # (an IN list's parameters are SQLAlchemy's to expand: a few people's rows)
        yield from conn.execute(statement.execution_options(yield_per=size))
        return
    given = compiled.construct_params()
    params = []
    for name in compiled.positiontup or ():
        value, process = given[name], _bind_processor(compiled.binds[name], conn)
        params.append(value if process is None or value is None else process(value))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(size):
            yield from rows
    finally:
        cursor.close()


def rows_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    key: str,
    keys: Sequence[str],
    *,
    equal: Mapping[str, str] | None = None,
) -> list[tuple[Any, ...]]:
    """SELECT `columns` of `table` WHERE each of `equal`'s columns has its value and `key` is
    one of `keys` (text columns: the values go to the driver as they are).

    On PostgreSQL each key is looked up on its own (a LATERAL subquery per key of the keys'
    array, kept apart by OFFSET 0), which the planner answers from the index on `equal`'s
    columns and `key` (a unique key: one row a key, whatever the statistics say). As one
    `IN` list, a table filled within the stage (no statistics, or those of an empty table)
    is planned as a scan of every row matching `equal`, filtered by the list: a pull's
    tombstone lookups read the whole `interactions` table once a batch (10k reps: ~25 ms
    each, 3.4 s of the server's ~10 s in the pull)."""
    if not keys:
        return []
    name = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "postgresql":
        target = name(table.name)
        wanted = [f"{name(c)} = %s" for c in equal or {}]
        wanted.append(f"{name(key)} = k.v")
        sql = (
            f"SELECT {', '.join(f'r.{name(c)}' for c in columns)} "
            f"FROM unnest(%s::varchar[]) AS k(v), LATERAL (SELECT "
            f"{', '.join(name(c) for c in dict.fromkeys(columns))} FROM {target} "
            f"WHERE {' AND '.join(wanted)} OFFSET 0) AS r"
        )
        distinct = list(dict.fromkeys(keys))  # a key twice is one row, as with IN
        return [tuple(r) for r in conn.exec_driver_sql(sql, (distinct, *(equal or {}).values()))]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conditions = [f"{name(c)} = {mark}" for c in equal or {}]
    conditions.append(f"{name(key)} IN ({', '.join([mark] * len(keys))})")
    sql = (
        f"SELECT {', '.join(name(c) for c in columns)} FROM {name(table.name)} "
        f"WHERE {' AND '.join(conditions)}"
    )
    return [tuple(r) for r in conn.exec_driver_sql(sql, (*(equal or {}).values(), *keys))]


def one_of(
    conn: Connection, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column` is one of `values`: on PostgreSQL `column = ANY(%s)` with the values as one
    array parameter, elsewhere `column IN (...)`. An IN list's SQL is rendered, bound value by
    value and parsed again by the driver and the server for each batch (its text changes with
    the number of values); the array's statement is one text, cached as any other. A delivery
    batch's settle names 500 statement ids: ~3 ms of the client's CPU less a batch."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


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
        # the connection's plans (kept with its driver connection, which the pool keeps too)
        plans: dict[tuple[Table, tuple[str, ...]], _Plan] = conn.info.setdefault(_PLANS, {})
        key = (table, tuple(columns))
        plan = plans.get(key)
        if plan is None:
            statement = table.insert().values({c: bindparam(c) for c in columns})
            plan = _plan(conn, statement, {c: table.c[c] for c in columns})
            if len(plans) < 64:
                plans[key] = plan
        if conn.dialect.name == "postgresql" and sorted(plan[2]) == sorted(columns):
            _copy_tuples(conn, table, plan, columns, rows)
        else:
            _execute_tuples(conn, plan, columns, rows)


def _copy_tuples(
    conn: Connection,
    table: Table,
    plan: _Plan,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """PostgreSQL: the rows sent with `COPY ... FROM STDIN` in the connection's transaction.
    An INSERT per row, even pipelined, costs the server a statement each (at 10,000 reps the
    translate stage's outbox and `emitted` rows, 700,000, took most of its time); COPY loads
    them as one stream, and the driver formats the tuples in C, with no mapping per row.
    Errors come back as SQLAlchemy's (a duplicate key as IntegrityError), as from an INSERT."""
    processors = dict(zip(plan[2], plan[3], strict=True))
    rows = _converted_rows(rows, [processors[c] for c in columns])
    preparer = conn.dialect.identifier_preparer
    sql = (
        f"COPY {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(c) for c in columns)}) FROM STDIN"
    )
    driver: Any = conn.connection.driver_connection  # psycopg's; set while `conn` is open
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=conn.dialect) from exc


def add_tuples(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    counts: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Add each row's `counts` to the row of `table` with its `keys` (the table's primary key),
    inserting it when there is none: an `INSERT ... ON CONFLICT (keys) DO UPDATE SET c = c +
    excluded.c` per row on SQLite, of many rows on PostgreSQL (_add_values) (rows: tuples of
    the values of `keys`, then of `counts`), so that only the rows named are read and
    written, whatever the table's size."""
    if rows and conn.dialect.name == "postgresql":
        _add_values(conn, table, keys, counts, rows)
    elif rows:
        columns = [*keys, *counts]
        insert = sqlite.insert(table).values({c: bindparam(c) for c in columns})
        statement = insert.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={c: table.c[c] + insert.excluded[c] for c in counts},
        )
        plan = _plan(conn, statement, {c: table.c[c] for c in columns})
        _execute_tuples(conn, plan, columns, rows)


# rows per statement of _add_values (PostgreSQL takes at most 65,535 parameters a statement)
_VALUES_ROWS = 1_000


def _add_values(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    counts: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """add_tuples on PostgreSQL: `INSERT ... VALUES (...), (...) ON CONFLICT DO UPDATE` of up
    to _VALUES_ROWS rows a statement instead of one statement a row, which the server plans
    and runs one by one even when pipelined (a states stage's full rebuild upserts hundreds of
    thousands of sums). A statement may not update a row twice, so rows repeating a key are
    added up first, as one statement a row would have."""
    width = len(keys)
    columns = [*keys, *counts]
    rows = _converted_rows(rows, [_bind_processor(table.c[c], conn) for c in columns])
    merged: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = row[:width]
        found = merged.get(key)
        if found is None:
            merged[key] = list(row[width:])
        else:
            for i, n in enumerate(row[width:]):
                found[i] += n
    name = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    one = f"({', '.join(['%s'] * len(columns))})"
    head = f"INSERT INTO {target} ({', '.join(name(c) for c in columns)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(name(k) for k in keys)}) DO UPDATE SET " + ", ".join(
        f"{name(c)} = {target}.{name(c)} + excluded.{name(c)}" for c in counts
    )
    per = max(1, min(_VALUES_ROWS, 65_535 // len(columns)))
    items = list(merged.items())
    for start in range(0, len(items), per):
        chunk = items[start : start + per]
        params = [v for key, added in chunk for v in (*key, *added)]
        conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, tuple(params))


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
_PLANS = (
    "adoptloop.bulk.insert_plans"  # Connection.info key: insert_tuples' plans by (table, columns)
)


def _plan(conn: Connection, statement: Any, typed: Mapping[str, Any]) -> _Plan:
    compiled = statement.compile(dialect=conn.dialect)
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        column = typed.get(name)
        processors.append(_bind_processor(column, conn) if column is not None else None)
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
    elif positional:
        # column by column: each distinct value of a column (a flag, a visit date) is converted
        # once, and the rows are taken apart and put together again by zip, not value by value
        given = list(zip(*rows, strict=True))
        columns: list[Sequence[Any]] = [given[i] for i in order]
        for k, p in converted:
            columns[k] = _converted(p, columns[k])
        params = list(zip(*columns, strict=True))
    else:
        params = []
        for row in rows:
            values = list(row) if in_order else [row[i] for i in order]
            for k, p in converted:
                if values[k] is not None:
                    values[k] = p(values[k])
            params.append(dict(zip(names, values, strict=True)))
    conn.exec_driver_sql(sql, params)


def _bind_processor(column: Any, conn: Connection) -> Callable[[Any], Any] | None:
    """What the column's type does to a value before the driver gets it: the dialect's own
    implementation's (psycopg's JSON wraps the value; the generic type's does nothing)."""
    processor: Callable[[Any], Any] | None = column.type.dialect_impl(conn.dialect).bind_processor(
        conn.dialect
    )
    return processor


def _converted_rows(
    rows: Sequence[tuple[Any, ...]], processors: Sequence[Callable[[Any], Any] | None]
) -> Sequence[tuple[Any, ...]]:
    """`rows` with each value whose column has a processor (the driver's conversion, as an
    INSERT's binds do) converted, column by column; `rows` itself when no column has one."""
    if not any(processors):
        return rows
    given = [list(column) for column in zip(*rows, strict=True)]
    for k, process in enumerate(processors):
        if process is not None:
            given[k] = _converted(process, given[k])
    return list(zip(*given, strict=True))


def _converted(process: Callable[[Any], Any], column: Sequence[Any]) -> list[Any]:
    """`process` applied to each value of the column but None, once per distinct value when
    the values are of one type and hashable (True and 1 are equal as keys, and may convert
    differently)."""
    if len(set(map(type, column)) - {type(None)}) <= 1:
        try:
            done = {v: process(v) for v in set(column) if v is not None}
        except TypeError:  # unhashable (a JSON column's dicts): each one converted below
            pass
        else:
            done[None] = None
            return list(map(done.__getitem__, column))
    return [None if v is None else process(v) for v in column]


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
