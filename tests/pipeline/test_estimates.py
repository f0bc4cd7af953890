"""Issue 19 point 5: uplift and leniency as xAPI statements from adoptloop's own agent, one per
capability (or manager) and period: valid, in the profile, byte-identical on re-send, voided and
re-issued when the estimate changes, skipped (never failing) without the uplift extra."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select
from structlog.testing import capture_logs

from adoptloop.adoption.raters import Leniency
from adoptloop.adoption.smallnumbers import Tier
from adoptloop.adoption.uplift import Uplift
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline.estimates import emit_estimates, period_of, publish_estimates
from adoptloop.pipeline.translate import TranslateStage
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import schema
from adoptloop.store.db import open_store
from adoptloop.xapi.ids import Pseudonymizer, StatementIds
from adoptloop.xapi.profile import build_profile, match
from adoptloop.xapi.validate import validate_statement
from adoptloop.xapi.vocab import Namespace
from tests.support import DEMO_CONFIG

NS = "https://xapi.example-pharma.com/adoptloop"
HOME = "https://hr.example-pharma.com"
MANAGER = "E10004"
PERIOD = "2026-11"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


def _stage(engine: Engine, run_id: str = "run-1") -> TranslateStage:
    capabilities = load_capability_map(DEMO_CONFIG.parent / "demo" / "capabilities.yaml")
    ctx = TranslateContext(
        ns=Namespace(NS),
        actors=Pseudonymizer(HOME, b"a-test-key-of-enough-bytes"),
        capabilities=capabilities,
    )
    return TranslateStage(engine, ctx, run_id)


def _uplift(estimate: float = 0.12, n_trained: int = 40) -> Uplift:
    return Uplift(
        "(all)",
        "opening",
        n_trained,
        55,
        Tier.COMPARABLE if n_trained >= 30 else Tier.COUNTS_ONLY,
        estimate,
        estimate - 0.05,
        estimate + 0.05,
    )


def _leniency() -> Leniency:
    return Leniency(MANAGER, "north", 120, 14, Tier.DIRECTIONAL, 0.031, -0.01, 0.072)


def _outbox(engine: Engine) -> list[tuple[str, str, dict[str, Any], bytes]]:
    t = schema.outbox
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.statement_id, t.c.kind, t.c.payload).order_by(t.c.seq))
        return [(r[0], r[1], orjson.loads(r[2]), r[2].encode()) for r in rows]


def test_estimate_statements_are_valid_match_the_profile_and_are_pseudonymous(
    engine: Engine,
) -> None:
    """Point 5: one uplift statement per capability and one leniency statement per manager,
    from adoptloop's own agent, valid under the strict validator and in the generated profile;
    the manager only as a pseudonym, no free text."""
    counts = emit_estimates(engine, _stage(engine), [_uplift()], [_leniency()], PERIOD)
    assert counts["uplift"]["statements"] == 1
    assert counts["leniency"]["statements"] == 1
    profile = build_profile(NS, generated_at="2026-11-22T00:00:00Z")
    rows = _outbox(engine)
    assert [kind for _id, kind, _s, _b in rows] == ["uplift", "leniency"]
    for _id, _kind, statement, raw in rows:
        assert validate_statement(statement) == []
        template, problems = match(profile, statement)
        assert problems == [], problems
        assert template is not None
        assert statement["actor"]["account"] == {"homePage": NS, "name": "adoptloop"}
        assert MANAGER.encode() not in raw
        assert b"north" not in raw  # no HR labels either
    uplift_statement, leniency_statement = rows[0][2], rows[1][2]
    assert uplift_statement["verb"]["id"] == f"{NS}/verbs/estimated-uplift"
    assert uplift_statement["object"]["id"] == f"{NS}/activities/capability/opening"
    assert uplift_statement["result"]["extensions"][f"{NS}/extensions/estimate"] == 0.12
    assert uplift_statement["result"]["success"] is True  # interval 0.07..0.17 above zero
    assert leniency_statement["object"]["account"]["name"] == Pseudonymizer(
        HOME, b"a-test-key-of-enough-bytes"
    ).name(MANAGER)


def test_estimate_statements_are_byte_identical_and_not_resent(
    engine: Engine, tmp_path: Path
) -> None:
    """Point 5: the same estimate in the same period sends nothing again, and a fresh store
    makes the same ids and the same bytes (deterministic ids from capability, period and
    revision)."""
    emit_estimates(engine, _stage(engine), [_uplift()], [_leniency()], PERIOD)
    again = emit_estimates(engine, _stage(engine, "run-2"), [_uplift()], [_leniency()], PERIOD)
    assert again["uplift"]["statements"] == 0
    assert again["uplift"]["unchanged"] == 1
    assert len(_outbox(engine)) == 2
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        emit_estimates(other, _stage(other), [_uplift()], [_leniency()], PERIOD)
        assert [(i, b) for i, _k, _s, b in _outbox(other)] == [
            (i, b) for i, _k, _s, b in _outbox(engine)
        ]
    finally:
        other.dispose()
    assert _outbox(engine)[0][0] == StatementIds(NS).statement(f"uplift/{PERIOD}/opening", 1)


def test_a_changed_estimate_voids_and_reissues_the_periods_statement(engine: Engine) -> None:
    """Point 5: a changed estimate for the same capability and period voids the statement and
    sends revision 2; a new period is a new statement, the old period's stays."""
    emit_estimates(engine, _stage(engine), [_uplift(0.12)], [], PERIOD)
    first = _outbox(engine)[0][0]
    counts = emit_estimates(engine, _stage(engine, "run-2"), [_uplift(0.15)], [], PERIOD)
    assert counts["uplift"]["statements"] == 1
    assert counts["uplift"]["voided"] == 1
    rows = _outbox(engine)
    assert [kind for _i, kind, _s, _b in rows] == ["uplift", "voided", "uplift"]
    assert rows[1][2]["object"] == {"objectType": "StatementRef", "id": first}
    assert rows[2][0] == StatementIds(NS).statement(f"uplift/{PERIOD}/opening", 2)
    next_month = emit_estimates(engine, _stage(engine, "run-3"), [_uplift(0.15)], [], "2026-12")
    assert next_month["uplift"]["voided"] == 0
    assert len(_outbox(engine)) == 4


def test_an_estimate_the_small_number_rule_now_hides_is_voided(engine: Engine) -> None:
    """Point 5 (small numbers): no statement for a row whose estimate is not shown, and the
    period's statement is voided when its row drops under the rule."""
    emit_estimates(engine, _stage(engine), [_uplift()], [], PERIOD)
    counts = emit_estimates(engine, _stage(engine, "run-2"), [_uplift(n_trained=7)], [], PERIOD)
    assert counts["uplift"] == {**counts["uplift"], "statements": 0, "voided": 1}
    assert [kind for _i, kind, _s, _b in _outbox(engine)] == ["uplift", "voided"]


def test_estimates_are_skipped_with_a_log_line_when_the_uplift_extra_is_missing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 5: without diff-diff the stage logs and skips; it never fails the run."""
    monkeypatch.setitem(sys.modules, "diff_diff", None)  # import diff_diff -> ImportError
    capabilities = load_capability_map(DEMO_CONFIG.parent / "demo" / "capabilities.yaml")
    with capture_logs() as logs:
        counts, estimates = publish_estimates(
            engine, _stage(engine), capabilities, date(2026, 11, 30)
        )
    assert "adoptloop[uplift]" in counts["skipped"]
    assert estimates is None
    assert any(e["event"] == "estimates skipped" for e in logs)
    assert _outbox(engine) == []


def test_period_is_the_as_of_month() -> None:
    """Point 5: the period a statement stands for is the as-of date's month."""
    assert period_of(date(2026, 11, 30)) == "2026-11"
