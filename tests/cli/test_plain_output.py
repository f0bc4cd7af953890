"""Output that is not a terminal (cron, a pipe, a file) is plain and full-width: every table row
stays on one line whatever COLUMNS says, tables are drawn in ASCII, titles stand on their own
line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app

ADOPTLOOP = Path(sys.executable).with_name("adoptloop")
LONG_REGION = (
    "North (Northern Europe, the Nordics, the Baltic states, Iceland and the Faroe Islands)"
)


def _invoke(*args: str | Path) -> Result:
    return CliRunner(env={"COLUMNS": "40"}).invoke(
        app, ["--log-level", "error", *[str(a) for a in args]], catch_exceptions=False
    )


def _rename_region(config: Path) -> None:
    people = config.parent / "demo" / "hris" / "people.csv"
    text = people.read_text(encoding="utf-8")
    assert ",North," in text
    people.write_text(text.replace(",North,", f',"{LONG_REGION}",'), encoding="utf-8")


def _table(stdout: str, title: str) -> list[str]:
    """The lines of the table printed under `title` (which stands alone on its line)."""
    lines = stdout.splitlines()
    start = lines.index(title) + 1
    end = start
    while end < len(lines) and lines[end][:1] in ("+", "|"):
        end += 1
    return lines[start:end]


def _assert_one_line_per_row(table: list[str]) -> None:
    assert len(table) >= 4  # top border, header, rule, rows..., bottom border
    assert table[0].startswith("+-")
    assert table[-1].startswith("+-")
    assert len({len(line) for line in table}) == 1  # no row wrapped or cut
    header_bars = table[1].count("|")
    assert all(line.count("|") == header_bars for line in table[1:-1] if line.startswith("| "))
    assert not any("\u2500" <= char <= "\u257f" for line in table for char in line)  # ASCII box


def test_adoption_table_keeps_each_row_on_one_line_when_piped(demo_config: Path) -> None:
    _rename_region(demo_config)
    assert _invoke("run", "--config", demo_config).exit_code == 0

    result = _invoke("adoption", "--config", demo_config)

    assert result.exit_code == 0, result.stderr
    title = "adoption as of 2026-06-30 (cohort = trained reps whose window has closed)"
    table = _table(result.stdout, title)
    _assert_one_line_per_row(table)
    rows = [line for line in table if line.startswith(f"| {LONG_REGION} |")]
    assert len(rows) == 6  # one per capability, each whole
    assert all(len(line) > 150 for line in rows)
    legend = [line for line in result.stdout.splitlines() if line.startswith("tiers:")]
    assert len(legend) == 1
    assert legend[0].endswith("* = the group's interval excludes the overall value.")


def test_status_through_a_pipe_prints_whole_quarantine_reasons(demo_config: Path) -> None:
    assert _invoke("run", "--config", demo_config).exit_code == 0

    done = subprocess.run(
        [ADOPTLOOP, "--log-level", "error", "status", "--config", str(demo_config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": "", "COLUMNS": "40"},
    )

    assert done.returncode == 0, done.stderr
    for title in ("last runs", "cursors", "sources", "quarantine by reason"):
        _assert_one_line_per_row(_table(done.stdout, title))
    reasons = _table(done.stdout, "quarantine by reason")
    assert any(
        "matches no HR record; 1 record(s) naming them wait in the store and are taken up "
        "once they match" in line
        for line in reasons
    )
    assert "\x1b[" not in done.stdout  # no colour
