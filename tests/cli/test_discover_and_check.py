"""`adoptloop discover` and `adoptloop check` on exports shaped like a customer's."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app

COMPLETIONS = Path("demo/lms/completions.csv")
REPORTS = Path("demo/crm/coaching_reports.csv")


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _rename_column(path: Path, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n", 1)
    assert old in lines[0]
    path.write_text(lines[0].replace(old, new) + "\n" + lines[1], encoding="utf-8")


def test_discover_lists_columns_what_the_mapping_reads_and_what_matches_nothing(
    demo_config: Path,
) -> None:
    _rename_column(demo_config.parent / COMPLETIONS, "score", "points")
    _rename_column(demo_config.parent / REPORTS, "Closing_Rating__c", "Closing_Score__c")

    result = _invoke("discover", "-c", demo_config, "--json")

    assert result.exit_code == 0, result.output
    found = {s["source"]: s for s in json.loads(result.stdout)}
    [completions] = found["lms"]["streams"]
    assert "points" in completions["unused"]
    assert "score" in completions["missing"]
    assert "record_id" in completions["used"]
    reports = {s["stream"]: s for s in found["crm"]["streams"]}["reports"]
    assert reports["unmatched_items"] == ["Closing_Rating__c"]
    assert "Closing_Score__c" in reports["unused"]


def test_check_names_each_broken_source_and_exits_with_the_worst_status(
    demo_config: Path,
) -> None:
    assert _invoke("check", "-c", demo_config).exit_code == 0
    _rename_column(demo_config.parent / COMPLETIONS, "completed_at", "finished")

    result = _invoke("check", "-c", demo_config, "--json")

    assert result.exit_code == 2
    outcome = {r["source"]: r for r in json.loads(result.stdout)}
    assert outcome["hris"]["ok"]
    assert not outcome["lms"]["ok"]
    assert "'completed_at' not found" in outcome["lms"]["detail"]
    assert "check failed for lms" in result.stderr
    assert not (demo_config.parent / "state" / "demo.db").exists()  # nothing stored
