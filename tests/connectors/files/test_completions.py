"""`file-completions`: an LMS export becomes Completions whose learner carries identity attributes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from adoptloop.connectors.files.completions import (
    CompletionsFileConfig,
    CompletionsFileConnector,
)
from adoptloop.domain import Checkpoint, Completion, PersonRef, Rejected, Skipped
from adoptloop.testing.kit import drain, last_cursor, make_context

RUN_DATE = date(2026, 6, 30)  # the exports' dates are before it

HEADER = "record_id,user_id,user_email,module_id,module_title,status,completed_at,score\n"


def connector(path: Path, **config: object) -> CompletionsFileConnector:
    settings = CompletionsFileConfig.model_validate(
        {"type": "file-completions", "path": path, **config}
    )
    return CompletionsFileConnector(settings, make_context(name="lms", run_date=RUN_DATE))


def write(tmp_path: Path, body: str, name: str = "completions.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_each_row_becomes_a_completion_of_a_learner_named_by_the_lms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "C1,u-17,ada@example.com,MOD-1,Objections,Passed,2026-02-03T10:00:00Z,87.5\n"
        "C2,u-18,,MOD-1,,completed,2026-02-04 09:30:00,\n",
    )
    items = drain(connector(path), "completions")

    completions = [i for i in items if isinstance(i, Completion)]
    assert completions == [
        Completion(
            source_record_id="C1",
            learner=PersonRef("lms", "u-17", {"user_email": "ada@example.com"}),
            module_id="MOD-1",
            module_title="Objections",
            status="passed",  # the status mapping is case-insensitive
            completed_at=datetime(2026, 2, 3, 10, 0, tzinfo=UTC),
            score=87.5,
        ),
        Completion(
            source_record_id="C2",
            learner=PersonRef("lms", "u-18", {}),
            module_id="MOD-1",
            module_title=None,
            status="completed",
            completed_at=datetime(2026, 2, 4, 9, 30, tzinfo=UTC),  # a naive time is UTC
            score=None,
        ),
    ]
    assert [c.location for c in completions] == ["completions.csv:2", "completions.csv:3"]
    assert isinstance(items[-1], Checkpoint)


def test_bad_rows_are_rejected_with_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "C1,u-1,,MOD-1,,completed,2026-02-03T10:00:00Z,\n"
        "C2,u-2,,MOD-1,,in progress,2026-02-03T10:00:00Z,\n"
        "C3,u-3,,MOD-1,,completed,2026-02-03T10:00:00Z,140\n"
        "C4,u-4,,MOD-1,,completed,yesterday,\n"
        "C5,u-5,,MOD-1,,failed,2026-02-03T10:00:00Z,12\n",
    )
    items = drain(connector(path), "completions")

    assert [i.source_record_id for i in items if isinstance(i, Completion)] == ["C1", "C5"]
    rejected = [(r.record_key, r.location, r.reason) for r in items if isinstance(r, Rejected)]
    assert rejected == [
        (
            "C2",
            "completions.csv:3",
            "status: 'aa aaaaaaaa' is not one of completed, passed, failed "
            "(map it under statuses:, to completed, passed, failed or ignore)",
        ),
        ("C3", "completions.csv:4", "score: 140 is outside 0..100"),
        ("C4", "completions.csv:5", "completed_at: 'aaaaaaaaa' is not an ISO 8601 date-time"),
    ]


def test_a_json_lines_drop_rejects_a_line_that_is_not_json(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"record_id": "C1", "user_id": "u-1", "user_email": "a@example.com", '
        '"module_id": "MOD-1", "status": "completed", "completed_at": "2026-02-03T10:00:00Z"}\n'
        "{not json\n",
        name="completions.jsonl",
    )
    items = drain(connector(path), "completions")

    assert [i.source_record_id for i in items if isinstance(i, Completion)] == ["C1"]
    rejected = [r for r in items if isinstance(r, Rejected)]
    assert [(r.record_key, r.location) for r in rejected] == [
        ("completions.jsonl:2", "completions.jsonl:2")
    ]
    assert rejected[0].reason.startswith("invalid JSON")


def test_an_unchanged_file_yields_only_its_checkpoint_the_second_time(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "C1,u-1,,MOD-1,,completed,2026-02-03T10:00:00Z,\n")
    cursor = last_cursor(drain(connector(path), "completions"))
    assert cursor is not None

    assert drain(connector(path), "completions", cursor) == [Checkpoint("completions", cursor)]


def test_a_status_mapped_to_ignore_is_skipped_not_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "C1,u-1,,MOD-1,,Completed,2026-02-03T10:00:00Z,\n"
        "C2,u-2,,MOD-1,,In Progress,2026-02-03T10:00:00Z,\n"
        "C3,u-3,,MOD-1,,Not Started,,\n",
    )
    statuses = {"Completed": "completed", " in progress ": "ignore", "not started": "ignore"}
    items = drain(connector(path, statuses=statuses), "completions")

    assert [i.source_record_id for i in items if isinstance(i, Completion)] == ["C1"]
    assert not [i for i in items if isinstance(i, Rejected)]
    skipped = [(s.record_key, s.location) for s in items if isinstance(s, Skipped)]
    assert skipped == [("C2", "completions.csv:3"), ("C3", "completions.csv:4")]
