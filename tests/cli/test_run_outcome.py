"""Honest run outcomes from the command line: a source mostly refused ends the run with exit 65
(its good rows used) and `status --check` fails until a better export arrives."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app

COMPLETIONS = Path("demo/lms/completions.csv")


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _break_dates(config: Path, share: float) -> tuple[int, int]:
    """Give `share` of the completions a date no parser takes; (data lines, broken)."""
    path = config.parent / COMPLETIONS
    lines = path.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    broken = int(len(rows) * share)
    for i in range(broken):
        cells = rows[i].split(",")
        cells[6] = "not-a-date"
        rows[i] = ",".join(cells)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return len(rows), broken


def test_a_source_mostly_quarantined_exits_65_and_status_check_fails_until_fixed(
    demo_config: Path,
) -> None:
    good = (demo_config.parent / COMPLETIONS).read_text(encoding="utf-8")
    lines, broken = _break_dates(demo_config, 0.5)

    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 65, result.output
    assert "source lms:" in result.stderr
    assert "max_rejected_share 5%" in result.stderr
    check = _invoke("status", "-c", demo_config, "--check", "--json")
    assert check.exit_code == 4
    report = json.loads(check.stdout)
    lms = report["sources"]["lms"]
    assert lms["read"] == lines
    assert lms["quarantined"] >= broken
    assert lms["read"] == lms["used"] + lms["quarantined"] + lms["held_back"]
    assert lms["used"] > 0  # the good rows were used
    assert any(p.startswith("source lms:") for p in report["problems"])

    again = _invoke("run", "-c", demo_config)  # the same file: still over the limit
    assert again.exit_code == 65

    (demo_config.parent / COMPLETIONS).write_text(good, encoding="utf-8")
    fixed = _invoke("run", "-c", demo_config)
    assert fixed.exit_code == 0, fixed.output
    assert _invoke("status", "-c", demo_config, "--check").exit_code == 0


def test_a_share_under_the_configured_limit_is_done(demo_config: Path) -> None:
    _break_dates(demo_config, 0.5)
    text = demo_config.read_text(encoding="utf-8")
    old = "    type: file-completions\n"
    demo_config.write_text(
        text.replace(old, old + "    max_rejected_share: 0.6\n"), encoding="utf-8"
    )

    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output
    assert _invoke("status", "-c", demo_config, "--check").exit_code == 0


def _store_rows(config: Path, table: str) -> int:
    import sqlite3

    path = config.parent / "state" / "demo.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_dry_run_commits_nothing_and_shows_counts_reasons_and_samples(
    demo_config: Path,
) -> None:
    first = _invoke("run", "-c", demo_config, "--dry-run")
    assert first.exit_code == 0, first.output
    assert "would quarantine" in first.stdout
    assert first.stdout.count('"verb"') == 3  # three sample statements
    assert "nothing was committed" in first.stdout
    assert _store_rows(demo_config, "outbox") == 0

    assert _invoke("run", "-c", demo_config).exit_code == 0
    queued = _store_rows(demo_config, "outbox")
    _break_dates(demo_config, 0.5)
    trial = _invoke("run", "-c", demo_config, "--dry-run")
    assert trial.exit_code == 65  # it would need attention, and says so
    assert "source lms:" in trial.stderr
    assert _store_rows(demo_config, "outbox") == queued  # the real store is untouched
    status = _invoke("status", "-c", demo_config, "--check")
    assert status.exit_code == 0  # the real store saw nothing of the dry run
