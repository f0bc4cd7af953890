"""Issue 19 points 1 and 2 from the command line, on the demo (staggered training waves):
`adoptloop uplift` and `adoptloop raters` CSV contracts, the pre-trend check in the table,
and a clear exit 2 when the optional extra is missing."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from adoptloop.cli.app import app


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def ran_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support import copy_demo

    config = copy_demo(tmp_path_factory.mktemp("demo"))
    assert _invoke("run", "--config", config).exit_code == 0
    return config


def test_uplift_csv_has_the_contract_columns_and_an_all_row_per_capability(
    ran_demo: Path,
) -> None:
    """Point 1: CSV columns exactly as DESIGN.md; an (all) row per capability, then groups."""
    result = _invoke("uplift", "--config", ran_demo, "--by", "region", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "group", "capability", "estimate", "ci_low", "ci_high",
        "n_trained", "n_comparison", "method", "suppressed",
    ]  # fmt: skip
    capabilities = {r["capability"] for r in rows}
    assert {r["capability"] for r in rows if r["group"] == "(all)"} == capabilities
    for row in rows:
        assert row["method"] == "imputation-did"
        if row["estimate"]:
            assert float(row["ci_low"]) <= float(row["estimate"]) <= float(row["ci_high"])
            assert int(row["n_trained"]) >= 10
        elif row["n_trained"]:
            assert int(row["n_trained"]) < 10 or row["group"] != "(all)"


def test_uplift_table_prints_the_pretrend_check(ran_demo: Path) -> None:
    """Point 1/5: the table format prints the pre-trend check under the table, one line per
    capability with an estimate: its leads and joint p-value, or why it cannot be tested (the
    demo's trained reps are mostly rated once before training: too few to identify a lead)."""
    result = _invoke("uplift", "--config", ran_demo)
    assert result.exit_code == 0, result.stderr
    _table, check = result.stdout.split("pre-trend check", 1)
    lines = [line.strip() for line in check.splitlines()[1:] if line.startswith("  ")]
    capabilities = {
        row["capability"]
        for row in csv.DictReader(io.StringIO(_invoke("uplift", "--config", ran_demo, "--format", "csv").stdout))
        if row["group"] == "(all)" and row["estimate"]
    }  # fmt: skip
    assert {line.split(":", 1)[0] for line in lines} == capabilities
    for line in lines:
        assert "joint p =" in line or "too few ratings before training to test" in line


def test_raters_csv_has_the_contract_columns(ran_demo: Path) -> None:
    """Point 2: CSV columns exactly as DESIGN.md, one row per rater; the demo's raters rate
    8-9 reps each: counts only (small-number rule), leniency blank."""
    result = _invoke("raters", "--config", ran_demo, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "manager", "region", "n_ratings", "n_reps", "leniency", "ci_low", "ci_high", "suppressed",
    ]  # fmt: skip
    for row in rows:
        if int(row["n_reps"]) < 10:
            assert row["leniency"] == ""


def test_uplift_without_the_extra_exits_2_naming_it(
    ran_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1: without adoptloop[uplift] the command says what to install, exit 2."""
    monkeypatch.setitem(sys.modules, "diff_diff", None)  # import diff_diff: ImportError
    for command in ("uplift", "raters"):
        result = _invoke(command, "--config", ran_demo)
        assert result.exit_code == 2
        assert "adoptloop[uplift]" in result.stderr
