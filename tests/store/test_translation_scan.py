"""Issue 17 (incremental run): where few of a table's rows are due, the translate stage reads
their keys by a scan of the table, and each batch looks its rows up by those keys, instead of
walking the primary key (which fetches every row of the range to look at its digests). The
rows and their order are the walk's, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

from adoptloop.store import schema, translation
from tests.store.rows import completion_row


def _completions(engine: Engine) -> None:
    rows = []
    for source in ("lms", "a-lms", "lms2"):  # keys in a different order than inserted
        for n in (7, 3, 12, 1, 9, 4, 10):
            due = n % 3 != 0
            rows.append(
                completion_row(
                    source,
                    f"C{n}",
                    hr_id=f"E{n}",
                    digest=f"d{n}",
                    translated_digest=None if n % 2 else (f"old{n}" if due else f"d{n}"),
                )
            )
    with engine.begin() as conn:
        conn.execute(schema.completions.insert(), rows)


def test_due_rows_read_by_a_scan_or_looked_up_are_the_walks_rows_in_key_order(
    engine: Engine,
) -> None:
    _completions(engine)
    due = sorted(
        (s, f"C{n}")
        for s in ("lms", "a-lms", "lms2")
        for n in (7, 3, 12, 1, 9, 4, 10)
        if n % 2 or n % 3
    )
    with engine.connect() as conn:
        first = translation.changed_keys(conn, "completions", ("", ""), 100)  # a scan
        walked = translation.changed_keys(conn, "completions", ("", "0"), 100)  # the key
        assert first == walked == due
        assert translation.changed_keys(conn, "completions", ("", ""), 4) == due[:4]
        for after, through in [(("", ""), due[4]), (due[4], due[9]), (due[9], None)]:
            walked_rows = translation.changed_rows(conn, "completions", after, through)
            keys = [k for k in due if k > after and (through is None or k <= through)]
            assert [(r["source"], r["record_id"]) for r in walked_rows] == keys
            # the keys in any order, and one not due (a lookup still reads only due rows)
            given = [*reversed(keys), ("lms", "C3")]
            looked_up = translation.changed_rows(conn, "completions", after, through, given)
            assert looked_up == walked_rows


def test_sqlite_scans_the_table_for_a_first_read_and_seeks_looked_up_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    _completions(engine)
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM completions" in statement:
            rows = cursor.connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans.append(" | ".join(str(r[-1]) for r in rows.fetchall()))

    event.listen(engine, "before_cursor_execute", explain)
    with engine.connect() as conn:
        translation.changed_keys(conn, "completions", ("", ""), 100)
        translation.changed_keys(conn, "completions", ("lms", "C1"), 100)
        translation.changed_rows(conn, "completions", ("", ""), ("lms", "C5"))
        keys = [("a-lms", "C1"), ("lms", "C5"), ("lms", "C4")]
        translation.changed_rows(conn, "completions", ("", ""), ("lms", "C5"), keys)
    event.remove(engine, "before_cursor_execute", explain)
    assert len(plans) == 4
    assert "SCAN completions" in plans[0], plans[0]
    assert "INDEX" not in plans[0], plans[0]
    for plan in plans[1:3]:  # walks
        assert "USING INDEX sqlite_autoindex_completions_1 ((source,record_id)>(?,?)" in plan
    # one seek a key
    assert "INDEX sqlite_autoindex_completions_1 (source=? AND record_id=?)" in plans[3]
