"""Issue 17 (translate speed): the translated marks of a batch go in a few UPDATE ... FROM
VALUES statements instead of one UPDATE per row; each row still gets the digest read with it,
so a row changed since it was read stays due (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, select

from adoptloop.store import schema, translation
from tests.store.rows import completion_row


def _completion(n: int) -> dict[str, Any]:
    return completion_row(
        "lms",
        f"C{n:05d}",
        hr_id=f"E{n % 7}",
        module_title=None,
        completed_at="2025-01-02T03:04:05.000Z",
        digest=f"d{n:031d}",
    )


def test_marks_set_each_rows_read_digest_in_one_update_per_thousand_rows(
    engine: Engine,
) -> None:
    rows = [_completion(n) for n in range(2_345)]
    with engine.begin() as conn:
        conn.execute(schema.completions.insert(), rows)
    with engine.connect() as conn:
        read = translation.changed_rows(conn, "completions", ("", ""))
    assert len(read) == 2_345
    with engine.begin() as conn:  # changed after it was read: its new digest is not translated
        conn.execute(
            schema.completions.update()
            .where(schema.completions.c.record_id == "C00007")
            .values(digest="changed")
        )
    updates: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE completions"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.begin() as conn:
            translation.mark_translated(
                conn, "completions", [(r["source"], r["record_id"], r["digest"]) for r in read]
            )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(updates) == 3  # 1,000 + 1,000 + 345 rows
    t = schema.completions
    with engine.connect() as conn:
        marks = dict(conn.execute(select(t.c.record_id, t.c.translated_digest)).all())
        due = translation.changed_rows(conn, "completions", ("", ""))
    assert marks["C00000"] == "d" + "0" * 31
    assert marks["C02344"] == f"d{2344:031d}"
    assert all(marks[r["record_id"]] == r["digest"] for r in read)
    assert [r["record_id"] for r in due] == ["C00007"]
