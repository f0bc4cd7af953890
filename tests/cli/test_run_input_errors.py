"""`adoptloop run` with an export that cannot be read as configured: exit 2, one message that
names the file, the line and the key to set, and nothing of any source committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app


def _run(config: Path) -> Result:
    return CliRunner().invoke(app, ["run", "--config", str(config)], catch_exceptions=False)


def _committed(config: Path) -> dict[str, int]:
    store = config.parent / "state" / "demo.db"
    with sqlite3.connect(store) as db:
        return {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("people", "completions", "observations", "cursors", "quarantine")
        }


def test_a_crm_file_in_another_encoding_stops_the_run_before_any_source_commits(
    demo_config: Path,
) -> None:
    actions = demo_config.parent / "demo" / "crm" / "development_actions.csv"
    lines = actions.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(3, lines[2].replace(",", ",Geöffnet ", 1).replace("A", "Z", 1))
    actions.write_bytes("".join(lines).encode("cp1252"))

    result = _run(demo_config)

    assert result.exit_code == 2
    message = result.stderr.splitlines()[-1]  # after the log line of the failed run
    assert message.startswith(f"{actions}:4: byte ")
    assert message.endswith("set `encoding: cp1252` under sources.crm.actions")
    assert "Traceback" not in result.output
    # HRIS and LMS are pulled before CRM; the pre-flight stopped the run before either
    assert _committed(demo_config) == {
        "people": 0,
        "completions": 0,
        "observations": 0,
        "cursors": 0,
        "quarantine": 0,
    }


def test_a_directory_where_the_hr_export_should_be_exits_2_without_a_traceback(
    demo_config: Path,
) -> None:
    people = demo_config.parent / "demo" / "hris" / "people.csv"
    people.unlink()
    people.mkdir()

    result = _run(demo_config)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"{people}: cannot be read (Is a directory); check sources.hris.path"
    )
    assert "Traceback" not in result.output


def test_the_demo_still_runs_with_its_six_quarantined_rows(demo_config: Path) -> None:
    result = _run(demo_config)

    assert result.exit_code == 0, result.output
    assert _committed(demo_config)["quarantine"] == 6
