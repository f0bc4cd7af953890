"""Issue 17, the causal estimates' cost: a run fits uplift and leniency once, for both the
estimate statements and the report (points 2 and 3); a run whose inputs did not change takes the
kept estimates, which equal a fresh fit's, and the same report; changed inputs are fitted again
(only the fits whose own inputs changed: tests/adoption/test_kept_estimates.py), and an erasure
forgets the kept estimates (point 4)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from adoptloop.adoption import uplift
from adoptloop.adoption.estimates import estimates_as_of
from adoptloop.cli.app import app
from adoptloop.cli.common import load
from adoptloop.pipeline.run import Environment
from adoptloop.store import adoption as store
from adoptloop.store import schema
from adoptloop.store.records import ESTIMATES_KEY, forget_adoption_computation


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The capabilities of every uplift fit made (the spy calls the real estimator)."""
    made: list[str] = []
    real = uplift.estimate

    def spy(ratings: Any, group: str, capability: str, *args: Any, **kwargs: Any) -> Any:
        made.append(capability)
        return real(ratings, group, capability, *args, **kwargs)

    monkeypatch.setattr(uplift, "estimate", spy)
    return made


def _run(config: Path) -> str:
    result = CliRunner().invoke(app, ["run", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = (config.parent / "state" / "out" / "adoption.html").read_text(encoding="utf-8")
    # the report's wall-clock times (when it was generated, when each source was last pulled)
    # are the run's, not the estimates': two runs a second apart may fall in different minutes
    unstamped, found = re.subn(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})? UTC", "", report
    )
    assert found  # the times were found (else the comparison would prove less)
    return unstamped


def test_a_run_fits_each_capability_once_for_the_statements_and_the_report(
    demo: Path, env: Environment, fits: list[str]
) -> None:
    """Point 2: the estimates stage and the report share the run's fit (it was fitted twice):
    the estimates' process fits each capability once, and the report, in the run's process,
    fits none."""
    _run(demo)
    made = _last_run_estimates(env)["fits"]["uplift"]
    assert made == {"fitted": len(env.capabilities.capabilities), "reused": 0}
    assert fits == []


def test_an_unchanged_rerun_reuses_the_kept_estimates_which_equal_a_fresh_fit(
    demo: Path, fits: list[str]
) -> None:
    """Point 4: nothing changed since the last fit -> no fit, the same report, and the kept
    estimates are exactly a fresh fit's (reuse == refit)."""
    first = _run(demo)
    fits.clear()
    second = _run(demo)
    assert fits == []
    assert second == first
    settings, registry = load(demo)
    env = Environment.open(settings, registry)
    day = env.as_of(None)
    with env.engine.begin() as conn:
        kept = estimates_as_of(conn, env.capabilities, day)
        meta = schema.meta  # the kept estimates dropped, nothing else (the same inputs)
        conn.execute(delete(meta).where(meta.c.key == ESTIMATES_KEY))
        fresh = estimates_as_of(conn, env.capabilities, day)
    env.engine.dispose()
    assert kept.reused
    assert not fresh.reused
    assert fresh.inputs == kept.inputs
    assert fresh.uplift == kept.uplift
    assert fresh.leniency == kept.leniency
    assert any(row.estimate is not None for row in fresh.uplift)


def _last_run_estimates(env: Environment) -> dict[str, Any]:
    runs = schema.runs
    with env.engine.connect() as conn:
        counts = conn.execute(
            select(runs.c.counts).order_by(runs.c.started_at.desc()).limit(1)
        ).scalar_one()
    found: dict[str, Any] = orjson.loads(counts)["estimates"]
    return found


def test_a_changed_rating_is_fitted_again(demo: Path, env: Environment) -> None:
    """Point 4: a rating the pull changed since the last fit -> its capability's uplift is
    fitted again (the run's counts say so), the other capabilities' fits are kept; a run
    with nothing new reads nothing and fits nothing."""
    _run(demo)
    assert _last_run_estimates(env)["fits"]["uplift"] == {"fitted": 6, "reused": 0}
    _run(demo)
    unchanged = _last_run_estimates(env)
    assert unchanged["inputs"] == "unchanged"
    assert unchanged["fits"]["uplift"] == {"fitted": 0, "reused": 6}
    reports = demo.parent / "demo" / "crm" / "coaching_reports.csv"
    with reports.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = list(reader.fieldnames or []), list(reader)
    rated = next(row for row in rows if row["Opening_Rating__c"])
    rated["Opening_Rating__c"] = "1" if int(rated["Opening_Rating__c"]) >= 4 else "5"
    with reports.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    _run(demo)
    changed = _last_run_estimates(env)
    assert changed["inputs"] == "read"
    assert changed["fits"]["uplift"] == {"fitted": 1, "reused": 5}
    with env.engine.connect() as conn:
        assert estimates_as_of(conn, env.capabilities, env.as_of(None)).reused


def test_an_erasure_forgets_the_kept_estimates(demo: Path, env: Environment) -> None:
    """Point 4: the kept estimates name managers: erasure (and the retention purge) drop them."""
    _run(demo)
    with env.engine.begin() as conn:
        assert store.kept_estimates(conn) is not None
        forget_adoption_computation(conn)
        assert store.kept_estimates(conn) is None
