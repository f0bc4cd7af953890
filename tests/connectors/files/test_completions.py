"""The `file-completions` connector: the LMS export as Completions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from adoptloop.connectors.files.completions import CompletionsFileConnector
from adoptloop.domain import Completion, PersonRef, Rejected
from tests.connectors.files.support import build, read, write

HEADER = "record_id,user_id,user_email,module_id,module_title,status,completed_at,score\n"


def test_rows_become_completions_with_the_learner_named_for_identity_rules(tmp_path: Path) -> None:
    write(
        tmp_path,
        "completions.csv",
        HEADER + "C1,U7,ana@x.io,MOD-1,Opening,Passed,2026-02-03T10:00:00Z,88\n",
    )
    connector = build(
        CompletionsFileConnector, tmp_path, type="file-completions", path="completions.csv"
    )

    (completion,) = [i for i in read(connector, "completions") if isinstance(i, Completion)]
    assert completion.learner == PersonRef("src", "U7", {"user_email": "ana@x.io"})
    assert (completion.status, completion.score, completion.module_title) == (
        "passed",
        88.0,
        "Opening",
    )
    assert completion.completed_at == datetime(2026, 2, 3, 10, tzinfo=UTC)
    assert completion.location == "completions.csv:2"


def test_unknown_statuses_and_scores_off_0_100_are_row_defects(tmp_path: Path) -> None:
    write(
        tmp_path,
        "completions.csv",
        HEADER
        + "C1,U1,a@x.io,MOD-1,,In Progress,2026-02-03T10:00:00Z,\n"
        + "C2,U1,a@x.io,MOD-1,,completed,2026-02-03T10:00:00Z,120\n"
        + "C3,U1,a@x.io,MOD-1,,completed,2026-02-03T10:00:00Z,\n",
    )
    connector = build(
        CompletionsFileConnector, tmp_path, type="file-completions", path="completions.csv"
    )
    items = read(connector, "completions")

    rejected = {r.record_key: r for r in items if isinstance(r, Rejected)}
    assert rejected["C1"].location == "completions.csv:2"
    assert "'In Progress' is not one of" in rejected["C1"].reason
    assert "outside 0..100" in rejected["C2"].reason
    assert [c.source_record_id for c in items if isinstance(c, Completion)] == ["C3"]
