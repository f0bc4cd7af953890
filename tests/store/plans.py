"""What PostgreSQL's planner makes of the statements a store function sends: for tests that a
lookup reads only the rows it asks for, whatever the table's statistics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, event

from adoptloop.store import bulk


def filled_after_its_statistics(
    engine: Engine, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`table` analyzed while empty (a new store's tables, between stages), then `rows` written
    (a stage filling it): the planner's statistics are those of an empty table."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"ANALYZE {table.name}")
    with engine.begin() as conn:
        bulk.insert_tuples(conn, table, columns, rows)


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The (SQL, parameters) of every statement `engine` sends while in the block."""
    sent: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        sent.append((sql, params))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def rows_removed(conn: Connection, sql: str, params: Any) -> int:
    """The rows the statement's plan read and then discarded (by a filter or an index's
    recheck), run with EXPLAIN ANALYZE: 0 when it read only the rows it asked for."""
    (plan,) = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).one()

    def removed(node: dict[str, Any]) -> int:
        here = int(node.get("Rows Removed by Filter", 0))
        here += int(node.get("Rows Removed by Index Recheck", 0))
        return here + sum(removed(n) for n in node.get("Plans", []))

    return removed(plan[0]["Plan"])
