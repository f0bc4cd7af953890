"""Deletions from export files, end to end: a snapshot file's missing record is deleted and
its statements voided; a snapshot that shrank too much is held back (exit 65) until
`run --allow-shrink`; `mode: changes` deletes only what its deleted column marks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app
from tests.support import read_csv, write_csv

REPORTS = Path("demo/crm/coaching_reports.csv")
COMPLETIONS = Path("demo/lms/completions.csv")


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _db(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "state" / "demo.db")


def _deleted(config: Path, table: str, record_id: str) -> bool:
    with _db(config) as db:
        row = db.execute(
            f"SELECT deleted FROM {table} WHERE record_id = ?",
            (record_id,),
        ).fetchone()
    assert row is not None, f"{record_id} was never stored"
    return bool(row[0])


def _voiding_statements(config: Path) -> int:
    with _db(config) as db:
        return int(
            db.execute("SELECT count(*) FROM outbox WHERE payload LIKE '%/voided\"%'").fetchone()[0]
        )


def test_a_report_removed_from_a_snapshot_export_is_deleted_and_its_statements_voided(
    demo_config: Path,
) -> None:
    assert _invoke("run", "-c", demo_config).exit_code == 0
    path = demo_config.parent / REPORTS
    header, rows = read_csv(path)
    gone = rows[0][0]
    write_csv(path, header, rows[1:])

    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output
    assert _deleted(demo_config, "observations", gone)
    assert _voiding_statements(demo_config) > 0
    assert not _deleted(demo_config, "observations", rows[1][0])


def test_a_snapshot_that_lost_too_much_is_held_back_until_allow_shrink(
    demo_config: Path,
) -> None:
    assert _invoke("run", "-c", demo_config).exit_code == 0
    path = demo_config.parent / COMPLETIONS
    header, rows = read_csv(path)
    kept = rows[: len(rows) // 2]  # half the export is missing: a cut file, most likely
    write_csv(path, header, kept)

    held = _invoke("run", "-c", demo_config)

    assert held.exit_code == 65, held.output
    assert "no longer lists" in held.stderr
    assert "--allow-shrink" in held.stderr
    assert not _deleted(demo_config, "completions", rows[-1][0])
    assert _invoke("status", "-c", demo_config, "--check").exit_code == 4
    assert _invoke("run", "-c", demo_config).exit_code == 65  # read again, held again

    applied = _invoke("run", "-c", demo_config, "--allow-shrink")

    assert applied.exit_code == 0, applied.output
    assert _deleted(demo_config, "completions", rows[-1][0])
    assert not _deleted(demo_config, "completions", kept[0][0])
    assert _invoke("status", "-c", demo_config, "--check").exit_code == 0
    assert _invoke("run", "-c", demo_config).exit_code == 0


def test_a_changes_export_deletes_only_what_its_deleted_column_marks(demo_config: Path) -> None:
    text = demo_config.read_text(encoding="utf-8")
    old = "    path: demo/lms/completions.csv\n"
    demo_config.write_text(
        text.replace(
            old, old + "    mode: changes\n    deleted: {column: IsDeleted, values: ['true']}\n"
        ),
        encoding="utf-8",
    )
    path = demo_config.parent / COMPLETIONS
    header, rows = read_csv(path)
    write_csv(path, [*header, "IsDeleted"], [[*r, "false"] for r in rows])
    assert _invoke("run", "-c", demo_config).exit_code == 0

    marked, missing = rows[0][0], rows[1][0]
    changed = [[*rows[0], "true"], *[[*r, "false"] for r in rows[2:]]]  # rows[1] left out
    write_csv(path, [*header, "IsDeleted"], changed)
    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output
    assert _deleted(demo_config, "completions", marked)
    assert not _deleted(demo_config, "completions", missing)  # a changes file is not the whole


def _state(config: Path, hr_id: str) -> str:
    with _db(config) as db:
        (status,) = db.execute(
            "SELECT status FROM people WHERE hr_id = ? ORDER BY valid_from DESC LIMIT 1", (hr_id,)
        ).fetchone()
    return str(status)


def test_a_broken_line_whose_id_can_be_read_keeps_its_record(demo_config: Path) -> None:
    """A NUL byte or a field cut short quarantines the line, but the record it stands for is
    still in the export: a snapshot must not delete it (nor void its statements)."""
    assert _invoke("run", "-c", demo_config).exit_code == 0
    people = demo_config.parent / "demo/hris/people.csv"
    data = people.read_bytes()
    assert b"\nE10005,Chloe," in data
    people.write_bytes(data.replace(b"\nE10005,Chloe,", b"\nE10005,Chl\x00oe,"))
    path = demo_config.parent / COMPLETIONS
    _header, rows = read_csv(path)
    text = path.read_text(encoding="utf-8")
    cut = text.rstrip("\n")[:-12]  # the last line cut mid-row

    path.write_text(cut, encoding="utf-8")
    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output
    assert _state(demo_config, "E10005") == "active"
    assert not _deleted(demo_config, "completions", rows[-1][0])
    with _db(demo_config) as db:
        keys = {k for (k,) in db.execute("SELECT record_key FROM quarantine WHERE resolved = 0")}
    assert {"E10005", rows[-1][0]} <= keys


def test_a_line_whose_id_cannot_be_read_holds_the_snapshot_back(demo_config: Path) -> None:
    assert _invoke("run", "-c", demo_config).exit_code == 0
    path = demo_config.parent / COMPLETIONS
    _header, rows = read_csv(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[5] = '"' + lines[5]  # a quote opened before the id: the line's record is unknown
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # and one row is gone

    held = _invoke("run", "-c", demo_config)

    assert held.exit_code == 65, held.output
    assert "could not be read" in held.stderr
    assert not _deleted(demo_config, "completions", rows[-1][0])
    assert not _deleted(demo_config, "completions", rows[4][0])


def test_a_person_back_in_the_snapshot_is_employed_again(demo_config: Path) -> None:
    """Missing from one HR export (closed as a leaver), listed again in the next: the closing
    is undone, not kept for ever."""
    assert _invoke("run", "-c", demo_config).exit_code == 0
    people = demo_config.parent / "demo/hris/people.csv"
    good = people.read_text(encoding="utf-8")
    people.write_text(
        "".join(line for line in good.splitlines(keepends=True) if not line.startswith("E10030,")),
        encoding="utf-8",
    )
    assert _invoke("run", "-c", demo_config).exit_code == 0
    assert _state(demo_config, "E10030") == "terminated"

    people.write_text(good, encoding="utf-8")
    assert _invoke("run", "-c", demo_config).exit_code == 0

    assert _state(demo_config, "E10030") == "active"
    with _db(demo_config) as db:
        rows = db.execute(
            "SELECT valid_to FROM people WHERE hr_id = 'E10030' ORDER BY valid_from"
        ).fetchall()
    assert rows[-1] == (None,)  # in effect again, open-ended
