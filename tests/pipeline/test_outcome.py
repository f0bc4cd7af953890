"""pipeline/outcome.py: how a run ends, from the sources' latest reads."""

from __future__ import annotations

from adoptloop.pipeline.outcome import judge, source_problems
from adoptloop.store.source_reads import SourceRead


def _read(lines: int, quarantined: int, stopped: str | None = None) -> SourceRead:
    return SourceRead(
        "hr",
        "run-1",
        "2026-12-01T00:00:00Z",
        lines,
        lines - quarantined,
        quarantined,
        0,
        None if stopped else "run-1",
        None,
        stopped,
    )


def test_every_source_within_its_limit_is_done() -> None:
    outcome = judge({"hr": _read(100, 5)}, {"hr": 0.05}, {})
    assert (outcome.status, outcome.exit_code, outcome.problems) == ("succeeded", 0, [])


def test_a_source_over_its_limit_needs_attention_and_says_how_much() -> None:
    outcome = judge({"hr": _read(100, 6)}, {"hr": 0.05}, {})
    assert (outcome.status, outcome.exit_code) == ("attention", 65)
    [problem] = outcome.problems
    assert problem.startswith("source hr: 6 of 100 data lines (6.0%) were quarantined")
    assert "max_rejected_share" in problem


def test_a_stopped_source_is_a_stop_whatever_else_is_wrong() -> None:
    reads = {"hr": _read(100, 50, stopped="API budget reached")}
    outcome = judge(reads, {"hr": 0.05}, {"hr": "API budget reached"})
    assert (outcome.status, outcome.exit_code) == ("stopped", 75)
    assert len(outcome.problems) == 2


def test_disabled_or_never_read_sources_are_not_judged() -> None:
    assert source_problems({"old": _read(10, 10)}, {"hr": 0.05}) == []
    assert source_problems({}, {"hr": 0.05}) == []
