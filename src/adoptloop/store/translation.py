"""What the translate stage reads and marks: rows whose digest changed since they were last
turned into statements, with their ratings, in (source, record_id) order.

Every table the translate stage reads carries `digest` (the row as stored) and
`translated_digest` (what was last translated): a row is due when the two differ, so the
stage's cost follows what changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Result, or_, select, text, tuple_

from adoptloop.store import schema

Row = dict[str, Any]


def _dicts(result: Result[Any]) -> list[Row]:
    """Rows as plain dicts (zipping the keys is cheaper than RowMapping per row)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.fetchall()]


# a row due for translation: never translated, or changed since it was (SQL of its own table's
# columns: changed_keys is written for the driver, a batch's bounds read without SQLAlchemy's
# per-statement work, which cost the stage's process 0.2 ms a batch)
_DUE = "(translated_digest IS NULL OR translated_digest != digest)"


def changed_keys(
    conn: Connection, table_name: str, after: tuple[str, str], limit: int
) -> list[tuple[str, str]]:
    """The (source, record_id) of up to `limit` rows due for translation after `after`, in
    order: a batch's bounds, whose rows `changed_rows` reads (in the translate stage's worker
    processes: the stage's own process reads only the keys)."""
    table = schema.metadata.tables[table_name]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    # The first read of a table (after nothing) scans the table and sorts what is due, keyed by
    # `source || ''` so that SQLite cannot walk the primary key instead: walking it fetches
    # every row from the table by key to look at its digests, ten times the cost of a scan,
    # all of it wasted in an incremental run, where a few rows among many are due (issue 17:
    # 641 of 62,809 observations). One scan costs a full run no more than a few milliseconds
    # a table; the reads after it (more than `limit` were due) walk the key from `after`.
    key = "source || ''" if after == ("", "") else "source"
    sql = (
        f"SELECT source, record_id FROM {table.name}"
        f" WHERE {_DUE} AND ({key}, record_id) > ({mark}, {mark})"
        f" ORDER BY {key}, record_id LIMIT {int(limit)}"
    )
    return [(source, record_id) for source, record_id in conn.exec_driver_sql(sql, after)]


def changed_rows(
    conn: Connection,
    table_name: str,
    after: tuple[str, str],
    through: tuple[str, str] | None = None,
    keys: Sequence[tuple[str, str]] | None = None,
) -> list[Row]:
    """The rows due for translation after (source, record_id) `after`, up to and with
    `through` (None: to the end), in that order. `keys`: the range's due keys as changed_keys
    read them, looked up one by one in the primary key instead of walking it from `after`
    (which fetches every row of the range from the table to look at its digests): where few of
    the range's rows are due, as in an incremental run, a lookup costs a few of those rows."""
    table = schema.metadata.tables[table_name]
    query = (
        select(table)
        .where(text(_DUE), tuple_(table.c.source, table.c.record_id) > tuple_(*after))
        .order_by(table.c.source, table.c.record_id)
    )
    if through is not None:
        query = query.where(tuple_(table.c.source, table.c.record_id) <= tuple_(*through))
    if keys is not None:
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, record_id in keys:
            by_source[source].append(record_id)
        # (source = ? AND record_id IN (...)) per source: SQLite seeks each key (a row value
        # IN (VALUES ...) it would test against every entry of the key instead)
        query = query.where(
            or_(
                *(
                    (table.c.source == source) & table.c.record_id.in_(ids)
                    for source, ids in by_source.items()
                )
            )
        )
    return _dicts(conn.execute(query))


# A rating as ratings_of reads it: the values of a domain.Rating, in its fields' order.
RatingValues = tuple[str, str, float, float | None, float | None, float]


def ratings_of(
    conn: Connection, observations: Sequence[Row]
) -> dict[tuple[str, str], list[RatingValues]]:
    """(source, record_id) -> the observation's ratings, in item order, each as the values of
    a domain.Rating (item, capability_id, raw, scale_min, scale_max, scaled; the scale is None
    for a rating stored before v3 whose item the capability map did not have). Read straight
    through the driver as tuples: the translate stage reads one rating per rating statement,
    and sends them to its worker process, so a dict per rating cost twice."""
    grouped: dict[tuple[str, str], list[RatingValues]] = defaultdict(list)
    by_source: dict[str, list[str]] = defaultdict(list)
    for row in observations:
        by_source[row["source"]].append(row["record_id"])
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for source, ids in by_source.items():
        sql = (
            "SELECT record_id, item, capability_id, raw, scale_min, scale_max, scaled"
            f" FROM {schema.ratings.name} WHERE source = {mark}"
            f" AND record_id IN ({', '.join([mark] * len(ids))}) ORDER BY record_id, item"
        )
        for rating in conn.exec_driver_sql(sql, (source, *ids)).fetchall():
            grouped[(source, rating[0])].append(rating[1:])
    return grouped


def mark_translated(
    conn: Connection, table_name: str, rows: Sequence[tuple[str, str, str]]
) -> None:
    """The rows' digests were turned into statements: `rows` are (source, record_id, the
    digest read with the row); each row's translated_digest becomes that digest (a row changed
    since then stays due), in one UPDATE per
    `_MARKS` rows (UPDATE ... FROM VALUES, SQLite >= 3.33 and PostgreSQL alike) instead of one
    per row."""
    table = schema.metadata.tables[table_name]
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for start in range(0, len(rows), _MARKS):
        chunk = rows[start : start + _MARKS]
        values = ", ".join([f"({marker}, {marker}, {marker})"] * len(chunk))
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET translated_digest = v.column3 FROM (VALUES {values}) AS v"
            f" WHERE {table.name}.source = v.column1 AND {table.name}.record_id = v.column2",
            tuple(chain.from_iterable(chunk)),
        )


_MARKS = 1_000  # rows per UPDATE: 3,000 parameters (SQLite allows 32,766, PostgreSQL 65,535)
