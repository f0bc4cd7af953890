"""Run history, including scheduled runs: claim, resume, skip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError

from adoptloop.store import runs, schema
from adoptloop.store.db import open_store

FIRE = "2026-06-30T02:00:00Z"


def test_a_scheduled_run_is_claimed_once_and_skipped_after_it_succeeded(engine: Engine) -> None:
    with engine.begin() as conn:
        run_id = runs.claim_run(conn, "nightly", FIRE, holder="a")
        assert run_id is not None
        runs.finish_run(conn, run_id, "succeeded", {"pull": {"seconds": 1.5}})
    with engine.begin() as conn:
        assert runs.claim_run(conn, "nightly", FIRE, holder="b") is None
    with engine.connect() as conn:
        (run,) = runs.recent_runs(conn)
    assert run["counts"] == {"pull": {"seconds": 1.5}}
    assert (run["holder"], run["attempts"]) == ("a", 1)


def test_an_interrupted_run_is_resumed_under_the_same_run_id(engine: Engine) -> None:
    with engine.begin() as conn:
        first = runs.claim_run(conn, "nightly", FIRE, holder="a")
        assert first is not None
        runs.finish_run(conn, first, "interrupted", {}, error="SIGTERM")
    with engine.begin() as conn:
        again = runs.claim_run(conn, "nightly", FIRE, holder="b")
    with engine.connect() as conn:
        (run,) = runs.recent_runs(conn)

    assert again == first
    assert (run["status"], run["attempts"], run["holder"], run["error"]) == (
        "running",
        2,
        "b",
        None,
    )


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(engine: Engine) -> None:
    with engine.begin() as conn:
        runs.claim_run(conn, "nightly", FIRE)
        assert runs.interrupt_stale_runs(conn) == 1
    with engine.connect() as conn:
        (run,) = runs.recent_runs(conn)
    assert run["status"] == "interrupted"


def test_the_unique_schedule_row_refuses_a_second_run_for_the_same_time(engine: Engine) -> None:
    values = {
        "pipeline": "nightly",
        "scheduled_for": FIRE,
        "started_at": schema.utcnow(),
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
        ids = {runs.claim_run(conn, "nightly", None) for _ in range(3)}
    assert len(ids) == 3
    assert None not in ids


def test_a_success_started_after_a_fire_time_covers_it(engine: Engine) -> None:
    with engine.begin() as conn:
        run_id = runs.claim_run(conn, "nightly", None)
        assert run_id is not None
        runs.finish_run(conn, run_id, "succeeded", {})
    with engine.connect() as conn:
        assert runs.last_success_since(conn, "nightly", FIRE, datetime(2000, 1, 1, tzinfo=UTC))
        assert not runs.last_success_since(conn, "nightly", FIRE, datetime(2999, 1, 1, tzinfo=UTC))
        assert not runs.last_success_since(conn, "other", FIRE, datetime(2000, 1, 1, tzinfo=UTC))


def test_a_run_another_process_inserted_first_is_skipped_not_raised(postgres_url: str) -> None:
    """The unique (pipeline, scheduled_for) refuses our row: open_run answers None."""
    engine = open_store(postgres_url)
    raced: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def insert_first(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("INSERT INTO runs") and not raced:
            raced.append("other")  # another process claims the same fire time, and commits
            with engine.begin() as other:
                runs.claim_run(other, "nightly", FIRE, holder="other")

    try:
        assert runs.open_run(engine, "nightly", FIRE, holder="us") is None
        with engine.connect() as conn:
            (run,) = runs.recent_runs(conn)
    finally:
        engine.dispose()
    assert raced == ["other"]
    assert run["holder"] == "other"
