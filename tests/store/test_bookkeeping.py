"""Cursors, quarantine and run history, including scheduled runs: claim, resume, skip."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from adoptloop.store import bookkeeping, schema
from adoptloop.store.bookkeeping import QuarantineEntry

FIRE = "2026-06-30T02:00:00Z"


def test_cursor_is_created_then_moved(engine: Engine) -> None:
    with engine.begin() as conn:
        bookkeeping.set_cursor(conn, "crm", "reports", "a")
        bookkeeping.set_cursor(conn, "crm", "reports", "b")
    with engine.connect() as conn:
        assert bookkeeping.get_cursor(conn, "crm", "reports") == "b"
        assert [c["value"] for c in bookkeeping.all_cursors(conn)] == ["b"]


def test_quarantine_keeps_one_entry_per_record_and_resolves_it(engine: Engine) -> None:
    entry = QuarantineEntry("lms", "completions", "c1", "completions.csv:3", "bad date")
    with engine.begin() as conn:
        bookkeeping.quarantine(conn, "run-1", [entry])
        bookkeeping.quarantine(conn, "run-2", [entry])
    with engine.connect() as conn:
        assert bookkeeping.quarantine_counts(conn) == [("lms", "completions", 1)]
        (row,) = bookkeeping.quarantine_entries(conn)
        assert (row["first_seen_run"], row["last_seen_run"]) == ("run-1", "run-2")
        assert row["updated_at"] is not None
    with engine.begin() as conn:
        bookkeeping.resolve_quarantined(conn, "lms", "completions", ["c1"])
    with engine.connect() as conn:
        assert bookkeeping.quarantine_counts(conn) == []


def test_a_scheduled_run_is_claimed_once_and_skipped_after_it_succeeded(engine: Engine) -> None:
    with engine.begin() as conn:
        run_id = bookkeeping.claim_run(conn, "nightly", FIRE, holder="a")
        assert run_id is not None
        bookkeeping.finish_run(conn, run_id, "succeeded", {"pull": {"seconds": 1.5}})
    with engine.begin() as conn:
        assert bookkeeping.claim_run(conn, "nightly", FIRE, holder="b") is None
    with engine.connect() as conn:
        (run,) = bookkeeping.recent_runs(conn)
    assert run["counts"] == {"pull": {"seconds": 1.5}}
    assert (run["holder"], run["attempts"]) == ("a", 1)


def test_an_interrupted_run_is_resumed_under_the_same_run_id(engine: Engine) -> None:
    with engine.begin() as conn:
        first = bookkeeping.claim_run(conn, "nightly", FIRE, holder="a")
        assert first is not None
        bookkeeping.finish_run(conn, first, "interrupted", {}, error="SIGTERM")
    with engine.begin() as conn:
        again = bookkeeping.claim_run(conn, "nightly", FIRE, holder="b")
    with engine.connect() as conn:
        (run,) = bookkeeping.recent_runs(conn)

    assert again == first
    assert (run["status"], run["attempts"], run["holder"], run["error"]) == (
        "running",
        2,
        "b",
        None,
    )


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(engine: Engine) -> None:
    with engine.begin() as conn:
        bookkeeping.claim_run(conn, "nightly", FIRE)
        assert bookkeeping.interrupt_stale_runs(conn) == 1
    with engine.connect() as conn:
        (run,) = bookkeeping.recent_runs(conn)
    assert run["status"] == "interrupted"


def test_the_unique_schedule_row_refuses_a_second_run_for_the_same_time(engine: Engine) -> None:
    values = {
        "pipeline": "nightly",
        "scheduled_for": FIRE,
        "started_at": bookkeeping.utcnow(),
        "status": "running",
        "counts": "{}",
    }
    with engine.begin() as conn:
        conn.execute(schema.runs.insert().values(run_id="one", **values))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(schema.runs.insert().values(run_id="two", **values))
    with engine.connect() as conn:
        assert conn.execute(select(schema.runs.c.run_id)).scalars().all() == ["one"]


def test_manual_runs_never_collide(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = {bookkeeping.claim_run(conn, "nightly", None) for _ in range(3)}
    assert len(ids) == 3
    assert None not in ids


def test_a_success_started_after_a_fire_time_covers_it(engine: Engine) -> None:
    with engine.begin() as conn:
        run_id = bookkeeping.claim_run(conn, "nightly", None)
        assert run_id is not None
        bookkeeping.finish_run(conn, run_id, "succeeded", {})
    with engine.connect() as conn:
        assert bookkeeping.last_success_since(conn, "nightly", FIRE, "2000-01-01T00:00:00.000000Z")
        assert not bookkeeping.last_success_since(conn, "nightly", FIRE, "2999-01-01T00:00:00Z")
        assert not bookkeeping.last_success_since(conn, "other", FIRE, "2000-01-01T00:00:00Z")
