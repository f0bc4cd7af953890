"""LMS statuses mapped to `ignore` (e.g. "In Progress"): read, not stored, not quarantined, and
counted among the source's used lines; a status not mapped at all stays a row defect."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app

COMPLETIONS = Path("demo/lms/completions.csv")
STATUSES = """    statuses:
      completed: completed
      passed: passed
      failed: failed
      In Progress: ignore
"""


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _add_in_progress(config: Path, n: int) -> int:
    """n more rows with status "In Progress" and no completion date; returns the data lines."""
    path = config.parent / COMPLETIONS
    lines = path.read_text(encoding="utf-8").splitlines()
    extra = [
        f"P{i:06d},u4040,ines.weber@example-pharma.com,MOD-OPEN-101,Opening the call,In Progress,,"
        for i in range(n)
    ]
    path.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    return len(lines) - 1 + n


def _lms(config: Path) -> dict[str, int]:
    report = json.loads(_invoke("status", "-c", config, "--json").stdout)
    return dict(report["sources"]["lms"])


def test_an_ignored_status_is_read_and_not_used_nor_quarantined(demo_config: Path) -> None:
    before = _invoke("run", "-c", demo_config)
    assert before.exit_code == 0
    baseline = _lms(demo_config)  # the demo's own: a row or two quarantined
    adoption = (demo_config.parent / "state" / "out" / "adoption.csv").read_text()
    lines = _add_in_progress(demo_config, 5)
    text = demo_config.read_text(encoding="utf-8")
    old = "    type: file-completions\n"
    demo_config.write_text(text.replace(old, old + STATUSES), encoding="utf-8")

    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output
    lms = _lms(demo_config)
    assert lms["read"] == lines
    assert lms["quarantined"] == baseline["quarantined"]  # the ignored rows are not among them
    assert lms["used"] == baseline["used"] + 5  # read and deliberately skipped: used
    assert lms["read"] == lms["used"] + lms["quarantined"] + lms["held_back"]
    # nothing about the ignored rows reached the adoption table
    assert (demo_config.parent / "state" / "out" / "adoption.csv").read_text() == adoption


def test_a_status_not_mapped_stays_a_row_defect(demo_config: Path) -> None:
    lines = _add_in_progress(demo_config, 5)

    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output  # 5 of 392: under max_rejected_share
    lms = _lms(demo_config)
    assert lms["read"] == lines
    assert lms["quarantined"] >= 5
