"""A record naming a person nobody matches yet waits in the store; the person is quarantined once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.domain import CoachingObservation, Completion, PersonRef, Rating
from adoptloop.store.parked import decode, encode
from tests.support import read_csv, write_csv

runner = CliRunner()


def run(config: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result.stdout


def db(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "state" / "demo.db")


def test_an_unknown_learner_is_quarantined_once_and_taken_up_when_hr_knows_them(
    demo_config: Path,
) -> None:
    completions = demo_config.parent / "demo" / "lms" / "completions.csv"
    lines = completions.read_text().splitlines()
    unknown = next(line for line in lines if "jo.bloggs@example-pharma.com" in line)
    second = unknown.replace("C900001", "C900002").replace("MOD-OPEN-101", "MOD-CLOSE-101")
    completions.write_text("\n".join([*lines, second]) + "\n")

    run(demo_config, "run")
    entries = [json.loads(x) for x in run(demo_config, "quarantine", "list", "--json").splitlines()]
    about_jo = [e for e in entries if e["source"] == "lms" and "u999001" in e["reason"]]
    assert len(about_jo) == 1  # once, not once per record
    assert about_jo[0]["stream"] == "users"
    assert "2 record(s)" in about_jo[0]["reason"]
    assert db(demo_config).execute("SELECT count(*) FROM parked").fetchone() == (
        3,
    )  # + the crm one

    people = demo_config.parent / "demo" / "hris" / "people.csv"
    people.write_text(
        people.read_text()
        + "E19999,Jo,Bloggs,jo.bloggs@example-pharma.com,199999,rep,E10004,North,GB,N-99,"
        "Oncology,active,2026-01-05,,2026-01-05\n"
    )
    output = run(demo_config, "run")
    assert "taken_up 2" in output
    connection = db(demo_config)
    stored = connection.execute(
        "SELECT record_id FROM completions WHERE hr_id = 'E19999' ORDER BY record_id"
    ).fetchall()
    assert stored == [("C900001",), ("C900002",)]
    assert connection.execute("SELECT count(*) FROM parked WHERE source = 'lms'").fetchone() == (0,)
    entries = [json.loads(x) for x in run(demo_config, "quarantine", "list", "--json").splitlines()]
    assert not [e for e in entries if "u999001" in e["reason"]]
    statements = connection.execute(
        "SELECT count(*) FROM outbox WHERE kind = 'completion' AND hr_id = 'E19999'"
    ).fetchone()
    assert statements == (2,)


def test_parked_records_survive_the_json_codec_unchanged() -> None:
    from datetime import UTC, date, datetime

    completion = Completion(
        "C1",
        PersonRef("lms", "u1", {"user_email": "a@example.com"}),
        "MOD-1",
        "Title",
        "passed",
        datetime(2026, 2, 3, 10, 0, tzinfo=UTC),
        88.0,
        location="completions.csv:2",
    )
    observation = CoachingObservation(
        "R1",
        PersonRef("crm", "005A"),
        PersonRef("crm", "005B"),
        date(2026, 2, 4),
        "Europe/London",
        "Submitted",
        True,
        None,
        datetime(2026, 2, 5, 8, 0, tzinfo=UTC),
        (
            Rating("Opening_Rating__c", "opening", 4.0, 1.0, 5.0, 0.75),
            Rating("Closing_Rating__c", "closing", 2.0, 1.0, 5.0, 0.25),
        ),
        True,
        False,
        12,
    )
    for record in (completion, observation):
        assert decode(encode(record)) == record


def test_fixing_the_hr_file_takes_up_a_crm_users_parked_reports_without_the_crm_resending(
    demo_config: Path,
) -> None:
    """The rep is missing from the first HR export: their CRM user matches nobody, and their
    coaching reports wait. Fixing only the HR file (the CRM exports unchanged, so not read
    again) takes the user and the reports up."""
    people = demo_config.parent / "demo" / "hris" / "people.csv"
    good = people.read_text(encoding="utf-8")
    people.write_text(
        "".join(line for line in good.splitlines(keepends=True) if not line.startswith("E10014,")),
        encoding="utf-8",
    )
    run(demo_config, "run")
    waiting = (
        db(demo_config)
        .execute(
            "SELECT count(*) FROM parked WHERE source = 'crm' AND external_id = '0055g000006rIkXAAU'"
        )
        .fetchone()[0]
    )
    assert waiting >= 6  # the user account and the reports naming them

    people.write_text(good, encoding="utf-8")
    run(demo_config, "run")

    connection = db(demo_config)
    assert connection.execute(
        "SELECT count(*) FROM parked WHERE external_id = '0055g000006rIkXAAU'"
    ).fetchone() == (0,)
    assert connection.execute(
        "SELECT hr_id FROM identities WHERE external_id = '0055g000006rIkXAAU'"
    ).fetchall() == [("E10014",)]
    observed = connection.execute(
        "SELECT count(*) FROM observations WHERE observed_hr_id = 'E10014' AND NOT deleted"
    ).fetchone()[0]
    assert observed == 6
    entries = [json.loads(x) for x in run(demo_config, "quarantine", "list", "--json").splitlines()]
    assert not [e for e in entries if "0055g000006rIkXAAU" in e["reason"]]


def test_a_parked_report_deleted_at_the_source_does_not_come_back_when_its_person_matches(
    demo_config: Path,
) -> None:
    """The reports export says what changed (mode: changes, an IsDeleted column): a report
    that waits for its rep and is then deleted stays gone once the rep is known."""
    text = demo_config.read_text(encoding="utf-8")
    old = "      path: demo/crm/coaching_reports.csv\n"
    demo_config.write_text(
        text.replace(
            old, old + "      mode: changes\n      deleted: {column: IsDeleted, values: ['true']}\n"
        ),
        encoding="utf-8",
    )
    reports = demo_config.parent / "demo" / "crm" / "coaching_reports.csv"
    original, rows = read_csv(reports)
    header, body = [*original, "IsDeleted"], [[*r, "false"] for r in rows]
    employee = original.index("Employee_vod__c")
    theirs = [r for r in body if r[employee] == "0055g000006rIkXAAU"]
    write_csv(reports, header, body)
    people = demo_config.parent / "demo" / "hris" / "people.csv"
    good = people.read_text(encoding="utf-8")
    people.write_text(
        "".join(line for line in good.splitlines(keepends=True) if not line.startswith("E10014,")),
        encoding="utf-8",
    )
    run(demo_config, "run")  # the rep's reports wait for them

    gone = theirs[0][0]
    theirs[0][-1] = "true"  # deleted in the CRM while it waited
    write_csv(reports, header, body)
    run(demo_config, "run")
    people.write_text(good, encoding="utf-8")  # the rep is known at last
    run(demo_config, "run")

    connection = db(demo_config)
    live = {
        rid
        for (rid,) in connection.execute(
            "SELECT record_id FROM observations WHERE observed_hr_id = 'E10014' AND NOT deleted"
        )
    }
    assert gone not in live
    assert live == {r[0] for r in theirs[1:]}
