"""The demo, end to end, the way a user runs it: `adoptloop run` then `statements export`."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from adoptloop.cli.app import app
from tests.support import added_records, copy_demo

runner = CliRunner()

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def run(config: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.stdout


def export(config: Path) -> bytes:
    out = config.parent / "export.jsonl"
    run(config, "statements", "export", "--out", str(out))
    return out.read_bytes()


def statements(payload: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in payload.splitlines()]


def test_two_fresh_demo_runs_export_byte_identical_statements(tmp_path: Path) -> None:
    first = copy_demo(tmp_path / "one")
    second = copy_demo(tmp_path / "two")
    run(first, "run")
    run(second, "run")
    a, b = export(first), export(second)
    assert a == b
    assert len(a.splitlines()) > 2000


def test_second_run_adds_no_statement_and_changes_nothing(demo_config: Path) -> None:
    run(demo_config, "run")
    before = export(demo_config)
    run(demo_config, "run")
    assert export(demo_config) == before
    db = sqlite3.connect(demo_config.parent / "state" / "demo.db")
    counts = json.loads(
        db.execute("SELECT counts FROM runs ORDER BY started_at DESC").fetchone()[0]
    )
    pulled = [
        c
        for streams in counts["pull"].values()
        if isinstance(streams, dict)
        for c in streams.values()
        if isinstance(c, dict)
    ]
    assert all(c["inserted"] == 0 and c["updated"] == 0 for c in pulled)
    assert all(
        t["statements"] == 0 and t["voided"] == 0
        for n, t in counts["translate"].items()
        if n != "seconds"
    )


def _edit_first_rating(reports: Path) -> tuple[str, str, str]:
    """Change one rating of the first submitted report; returns (report id, item, new value)."""
    with reports.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0])
    for row in rows:
        if row["Status__c"] in ("Submitted", "Approved"):
            item = next(f for f in fields if f.endswith("_Rating__c") and row[f])
            row[item] = "5" if row[item] != "5" else "4"
            with reports.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            return row["Id"], item, row[item]
    raise AssertionError("no submitted report in the demo")


def test_editing_one_rating_voids_the_old_statement_and_emits_one_new(demo_config: Path) -> None:
    run(demo_config, "run")
    before = statements(export(demo_config))
    report_id, item, value = _edit_first_rating(
        demo_config.parent / "demo" / "crm" / "coaching_reports.csv"
    )

    run(demo_config, "run")
    after = statements(export(demo_config))
    added = added_records(before, after)
    assert after[: len(before)] == before  # nothing already made is rewritten
    assert len(added) == 2
    void, new = sorted(added, key=lambda s: s["verb"]["id"] != VOIDED)
    assert void["verb"]["id"] == VOIDED
    extension_item = next(k for k in new["context"]["extensions"] if k.endswith("/coaching-item"))
    old = [
        s
        for s in before
        if s["verb"]["id"].endswith("/scored")
        and s["object"]["id"] == new["object"]["id"]
        and s["context"]["extensions"][extension_item] == item
        and report_id in s["context"]["contextActivities"]["parent"][0]["id"]
    ]
    assert len(old) == 1
    assert void["object"] == {"objectType": "StatementRef", "id": old[0]["id"]}
    assert new["id"] != old[0]["id"]
    assert new["result"]["score"]["raw"] == float(value)


def test_bad_demo_rows_are_quarantined_with_reasons_and_counted_in_status(
    demo_config: Path,
) -> None:
    run(demo_config, "run")
    listing = run(demo_config, "quarantine", "list", "--json")
    entries = [json.loads(line) for line in listing.splitlines()]
    reasons = {(e["source"], e["record_key"]): (e["location"], e["reason"]) for e in entries}
    assert reasons[("crm", "0051t000000HneCAAS")] == (
        "coaching_reports.csv:39",
        "unknown person: crm user 0051t000000HneCAAS matches no HR record; 1 record(s) naming "
        "them wait in the store and are taken up once they match",
    )
    assert (
        reasons[("crm", "a1C5g00000DaXClEAN")][1]
        == "rating 7 for Opening_Rating__c is outside its scale 1..5"
    )
    assert "is not a date" in reasons[("crm", "a1C5g00000DdzSFEAZ")][1]
    assert "lms user u999001 matches no HR record" in reasons[("lms", "u999001")][1]
    assert "is not an ISO 8601 date-time" in reasons[("lms", "C000060")][1]
    assert "E09999 is not a known person" in reasons[("hris", "E10094@2025-09-01")][1]
    assert len(entries) == 6

    status = run(demo_config, "status")
    assert "quarantine: 6 open" in status
    assert "crm.reports: 2" in status
    assert "crm.users: 1" in status
    assert "lms.completions: 1" in status
    assert "lms.users: 1" in status


def test_run_prints_the_adoption_table_and_writes_the_csv(demo_config: Path) -> None:
    output = run(demo_config, "run")
    assert "adoption as of 2026-06-30" in output
    table = demo_config.parent / "state" / "out" / "adoption.csv"
    with table.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    groups = {r["group"] for r in rows}
    assert {"North", "South", "West", "(all)"} <= groups
    assert {r["capability"] for r in rows} == {
        "opening",
        "needs-assessment",
        "objection-handling",
        "clinical-data",
        "closing",
        "compliant-promotion",
    }


def test_a_store_from_a_newer_adoptloop_is_refused_and_left_untouched(demo_config: Path) -> None:
    run(demo_config, "run")
    db_path = demo_config.parent / "state" / "demo.db"
    db = sqlite3.connect(db_path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    before = db_path.read_bytes()
    result = runner.invoke(app, ["run", "--config", str(demo_config)])
    assert result.exit_code == 2
    assert "schema version 99" in result.stderr
    assert "upgrade adoptloop" in result.stderr
    assert sqlite3.connect(db_path).execute("SELECT value FROM meta").fetchone()[0] == "99"
    del before
