"""store/source_reads.py: a source's latest read with rows, and its last complete read."""

from __future__ import annotations

from sqlalchemy import Engine

from adoptloop.store import source_reads
from adoptloop.store.source_reads import SourceRead


def _read(
    engine: Engine, run: str, lines: int, quarantined: int, stopped: str | None = None
) -> SourceRead:
    with engine.begin() as conn:
        source_reads.record_read(
            conn,
            "hr",
            run,
            lines=lines,
            quarantined=quarantined,
            held_back=1,
            stopped_reason=stopped,
        )
    with engine.connect() as conn:
        return source_reads.latest_reads(conn)["hr"]


def test_a_read_with_rows_replaces_the_figures_and_marks_the_source_complete(
    engine: Engine,
) -> None:
    first = _read(engine, "run-1", 100, 40)
    assert (first.lines, first.used, first.quarantined, first.held_back) == (100, 59, 40, 1)
    assert first.rejected_share == 0.4
    assert first.complete_run_id == "run-1"
    second = _read(engine, "run-2", 10, 0)
    assert (second.run_id, second.lines, second.used) == ("run-2", 10, 9)


def test_a_read_without_rows_keeps_the_figures_of_the_read_before(engine: Engine) -> None:
    _read(engine, "run-1", 100, 40)
    unchanged = _read(engine, "run-2", 0, 0)  # the same file, not read again
    assert (unchanged.run_id, unchanged.lines, unchanged.quarantined) == ("run-1", 100, 40)
    assert unchanged.complete_run_id == "run-2"


def test_a_stopped_read_keeps_the_last_complete_run_until_one_reads_to_the_end(
    engine: Engine,
) -> None:
    _read(engine, "run-1", 5, 0)
    stopped = _read(engine, "run-2", 3, 0, stopped="API budget reached")
    assert stopped.stopped_reason == "API budget reached"
    assert stopped.complete_run_id == "run-1"
    resumed = _read(engine, "run-3", 2, 0)
    assert resumed.stopped_reason is None
    assert resumed.complete_run_id == "run-3"


def test_a_source_stopped_before_its_first_row_has_no_complete_run(engine: Engine) -> None:
    stopped = _read(engine, "run-1", 0, 0, stopped="API budget reached")
    assert stopped.complete_run_id is None
    assert stopped.run_id is None  # no row read yet
