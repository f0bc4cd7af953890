"""Cursors: created at the first checkpoint, moved at the next ones."""

from __future__ import annotations

from sqlalchemy import Engine

from adoptloop.store import cursors


def test_cursor_is_created_then_moved(engine: Engine) -> None:
    with engine.begin() as conn:
        cursors.set_cursor(conn, "crm", "reports", "a")
        cursors.set_cursor(conn, "crm", "reports", "b")
    with engine.connect() as conn:
        assert cursors.get_cursor(conn, "crm", "reports") == "b"
        assert [c["value"] for c in cursors.all_cursors(conn)] == ["b"]


def test_a_source_was_last_updated_when_any_of_its_streams_moved(engine: Engine) -> None:
    with engine.begin() as conn:
        cursors.set_cursor(conn, "crm", "reports", "a")
        cursors.set_cursor(conn, "crm", "users", "a")
        cursors.set_cursor(conn, "lms", "completions", "a")
    with engine.connect() as conn:
        stored = cursors.all_cursors(conn)
        updated = cursors.updated_by_source(conn)
    latest = {c["source"]: c["updated_at"] for c in stored}  # sorted: users after reports
    assert updated == latest


def test_forgetting_a_source_deletes_every_stream_of_it_and_only_it(engine: Engine) -> None:
    with engine.begin() as conn:
        cursors.set_cursor(conn, "crm", "reports", "a")
        cursors.set_cursor(conn, "crm", "users", "a")
        cursors.set_cursor(conn, "lms", "completions", "a")
        forgotten = cursors.forget_source(conn, "crm")
        again = cursors.forget_source(conn, "crm")
    with engine.connect() as conn:
        left = [(c["source"], c["stream"]) for c in cursors.all_cursors(conn)]
    assert (forgotten, again) == (2, 0)
    assert left == [("lms", "completions")]
