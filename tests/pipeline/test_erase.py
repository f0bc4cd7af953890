"""`adoptloop erase --person`: voided in the LRS, purged from the store, never imported again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.pipeline.erase import COUNTS
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.validate import validate_statement
from tests.harness.lrs_server import LocalLRS, LRSInfo
from tests.pipeline.test_deliver_to_lrs import _point_at_lrs
from tests.support import copy_demo, read_csv, write_csv

runner = CliRunner()
REP = "E10020"  # a rep in the demo
MANAGER = "E10004"  # a first-line manager in the demo
HOME = "https://hr.example-pharma.com"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def invoke(config: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, [*args, "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def db(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "state" / "demo.db")


def actor_name(config: Path, hr_id: str) -> str:
    key = (config.parent / "demo" / "actor-key.txt").read_text().strip().encode()
    return Pseudonymizer(HOME, key).name(hr_id)


def exported(config: Path) -> list[dict[str, Any]]:
    out = config.parent / "export.jsonl"
    invoke(config, "statements", "export", "--out", str(out))
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_erased_rep_leaves_no_trace_in_the_store_and_only_an_audit_entry(demo_config: Path) -> None:
    invoke(demo_config, "run")
    name = actor_name(demo_config, REP)
    assert any(s["actor"]["account"]["name"] == name for s in exported(demo_config))

    output = invoke(demo_config, "erase", "--person", REP, "--yes")
    assert "erased: audit entry" in output

    raw = (demo_config.parent / "state" / "demo.db").read_bytes()
    assert REP.encode() not in raw
    assert name.encode() not in raw  # no copy of their statements is kept either
    assert (
        not (demo_config.parent / "state" / "demo.db-wal").exists()
        or REP.encode() not in (demo_config.parent / "state" / "demo.db-wal").read_bytes()
    )
    audit = db(demo_config).execute("SELECT counts, subject_digest FROM erasures").fetchall()
    assert len(audit) == 1
    counts = json.loads(audit[0][0])
    assert counts["hr_rows"] == 1
    assert counts["statements_voided"] > 0
    assert REP not in audit[0][0]
    assert REP not in audit[0][1]


def test_erasure_voids_every_current_statement_about_the_person(demo_config: Path) -> None:
    invoke(demo_config, "run")
    name = actor_name(demo_config, REP)
    about = {s["id"] for s in exported(demo_config) if s["actor"]["account"]["name"] == name}
    invoke(demo_config, "erase", "--person", REP, "--yes")
    statements = exported(demo_config)
    voided = {s["object"]["id"] for s in statements if s["verb"]["id"] == VOIDED}
    assert about <= voided
    assert all(s["actor"]["account"]["name"] != name for s in statements)


def test_an_erased_person_is_not_imported_again_from_exports_that_still_hold_them(
    demo_config: Path,
) -> None:
    invoke(demo_config, "run")
    invoke(demo_config, "erase", "--person", REP, "--yes")
    db(demo_config).execute("DELETE FROM cursors").connection.commit()  # force a full re-read

    invoke(demo_config, "run")
    raw = (demo_config.parent / "state" / "demo.db").read_bytes()
    connection = db(demo_config)
    assert connection.execute("SELECT count(*) FROM people WHERE hr_id = ?", (REP,)).fetchone() == (
        0,
    )
    assert connection.execute(
        "SELECT count(*) FROM identities WHERE hr_id = ?", (REP,)
    ).fetchone() == (0,)
    assert connection.execute(
        "SELECT count(*) FROM quarantine WHERE reason LIKE '%' || ? || '%'", (REP,)
    ).fetchone() == (0,)
    name = actor_name(demo_config, REP)
    assert all(s["actor"]["account"]["name"] != name for s in exported(demo_config))
    del raw


def raw_export(config: Path) -> list[bytes]:
    out = config.parent / "export.jsonl"
    invoke(config, "statements", "export", "--out", str(out))
    return out.read_bytes().splitlines()


def instructor(statement: dict[str, Any]) -> str | None:
    name: str | None = (
        statement.get("context", {}).get("instructor", {}).get("account", {}).get("name")
    )
    return name


def test_statements_naming_an_erased_manager_are_voided_and_reissued_without_him(
    tmp_path: Path,
) -> None:
    """Issue 15 point 2: the visits and ratings an erased manager observed (he is their
    context.instructor) are voided and re-issued without him under new statement ids; the
    re-issued statements validate, are byte-identical in two stores erased apart and are not
    sent again by a run that re-reads the same exports; no statement in the store (the outbox
    archive) names his pseudonym any more."""
    stores = [copy_demo(tmp_path / name) for name in ("one", "two")]
    for config in stores:
        invoke(config, "run")
    config = stores[0]
    manager = actor_name(config, MANAGER)
    before = exported(config)
    observed = [s for s in before if instructor(s) == manager]
    assert observed

    for each in stores:
        invoke(each, "erase", "--person", MANAGER, "--yes")
    after = exported(config)
    assert not any(manager in orjson.dumps(s).decode() for s in after)
    voided = {s["object"]["id"] for s in after if s["verb"]["id"] == VOIDED}
    assert {s["id"] for s in observed} <= voided
    earlier = {s["id"] for s in before}
    reissued = [s for s in after if s["id"] not in earlier and s["verb"]["id"] != VOIDED]
    assert len(reissued) == len(observed)
    assert {(s["verb"]["id"], s["object"]["id"], s["timestamp"]) for s in reissued} == {
        (s["verb"]["id"], s["object"]["id"], s["timestamp"]) for s in observed
    }
    assert all("instructor" not in s["context"] for s in reissued)
    assert all(validate_statement(s) == [] for s in reissued)

    def reissued_bytes(config: Path) -> list[bytes]:
        return sorted(
            line
            for line in raw_export(config)
            if orjson.loads(line)["id"] in {s["id"] for s in reissued}
        )

    assert reissued_bytes(stores[0]) == reissued_bytes(stores[1])
    assert len(reissued_bytes(stores[1])) == len(reissued)
    exported_once = raw_export(config)
    db(config).execute("DELETE FROM cursors").connection.commit()  # the same exports again
    invoke(config, "run")
    assert raw_export(config) == exported_once

    connection = db(config)
    assert connection.execute(
        "SELECT count(*) FROM people WHERE manager_hr_id = ?", (MANAGER,)
    ).fetchone() == (0,)
    assert (
        connection.execute(
            "SELECT count(*) FROM people WHERE manager_hr_id = '(erased)'"
        ).fetchone()[0]
        > 0
    )


def test_a_quarantined_row_with_free_text_stores_no_part_of_it(demo_config: Path) -> None:
    """Issue 15 point 3: quarantine keeps the location, the reason and the record key; a comment
    typed into a date column and the report's own comment leave no word in the store."""
    reports = demo_config.parent / "demo" / "crm" / "coaching_reports.csv"
    header, rows = read_csv(reports)
    bad = dict(zip(header, rows[0], strict=True))
    bad["Id"] = "a1C5g00000FREETXT1"
    bad["Review_Date__c"] = "Hollander congress"
    bad["Comments__c"] = "Confidential: Dr Hollander distrusts samples"
    write_csv(reports, header, [*rows, [bad[column] for column in header]])

    invoke(demo_config, "run")
    entries = db(demo_config).execute("SELECT * FROM quarantine").fetchall()
    ours = [e for e in entries if "a1C5g00000FREETXT1" in e]
    assert len(ours) == 1
    assert "Review_Date__c" in " ".join(map(str, ours[0]))
    stored = " ".join(str(value) for entry in entries for value in entry)
    for word in ("Hollander", "congress", "Confidential", "distrusts", "samples"):
        assert word not in stored
    raw = (demo_config.parent / "state" / "demo.db").read_bytes()
    assert b"Hollander" not in raw


def test_erase_reports_what_it_voided_and_purged_per_kind_as_json(demo_config: Path) -> None:
    """Issue 15 point 2 (`erase` reports what it voided and purged): --json prints the audit
    entry's id and one count per kind, the same counts the audit entry keeps."""
    invoke(demo_config, "run")
    report = json.loads(invoke(demo_config, "erase", "--person", MANAGER, "--yes", "--json"))
    counts = report["counts"]
    assert set(counts) == set(COUNTS)
    assert counts["hr_rows"] == 1
    assert counts["identities"] == 1
    assert counts["statements_voided"] == counts["statements_reissued"] > 0
    assert counts["outbox_rows"] == counts["statements_reissued"]  # his observations' copies
    assert counts["identifiers_suppressed"] == 4  # HR id, email, employee number, CRM user
    assert report["delivery"] == {"target": "store", "stored": 0}
    audit = db(demo_config).execute("SELECT erasure_id, counts FROM erasures").fetchall()
    assert [(audit[0][0], json.loads(audit[0][1]))] == [(report["erasure_id"], counts)]


def test_erasing_an_unknown_person_changes_nothing_and_says_so(demo_config: Path) -> None:
    invoke(demo_config, "run")
    result = runner.invoke(
        app, ["erase", "--config", str(demo_config), "--person", "E99999", "--yes"]
    )
    assert result.exit_code == 2
    assert "no person with hr_id E99999" in result.stderr
    assert db(demo_config).execute("SELECT count(*) FROM erasures").fetchone() == (0,)


def test_erase_without_yes_off_a_terminal_refuses(demo_config: Path) -> None:
    invoke(demo_config, "run")
    result = runner.invoke(app, ["erase", "--config", str(demo_config), "--person", REP])
    assert result.exit_code == 2
    assert "--yes" in result.stderr


def test_erasure_reaches_the_lrs_no_statement_about_the_person_remains(
    demo_config: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    lrs, info = local_lrs
    env = _point_at_lrs(demo_config, info)
    invoke(demo_config, "run", env=env)
    name = actor_name(demo_config, REP)
    agent = json.dumps({"objectType": "Agent", "account": {"homePage": HOME, "name": name}})

    def about() -> list[dict[str, Any]]:
        with lrs.client() as http:
            response = http.get("statements", params={"agent": agent, "limit": 1000})
            response.raise_for_status()
            statements: list[dict[str, Any]] = response.json()["statements"]
            return statements

    before = about()
    assert before
    assert all(s["actor"]["account"]["name"] == name for s in before)
    invoke(demo_config, "erase", "--person", REP, "--yes", env=env)
    # xAPI filters also return statements that reference a match: only our voiding ones remain
    after = about()
    assert all(s["actor"]["account"]["name"] == "adoptloop" for s in after)
    assert {s["object"]["id"] for s in after} == {s["id"] for s in before}
    pending = (
        db(demo_config).execute("SELECT count(*) FROM outbox WHERE state != 'delivered'").fetchone()
    )
    assert pending == (0,)
