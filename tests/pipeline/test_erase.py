"""`adoptloop erase --person`: voided in the LRS, purged from the store, never imported again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.xapi.ids import Pseudonymizer
from tests.harness.lrs_server import LocalLRS, LRSInfo
from tests.pipeline.test_deliver_to_lrs import _point_at_lrs

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


def test_erasing_a_manager_reissues_their_observations_without_an_instructor(
    demo_config: Path,
) -> None:
    invoke(demo_config, "run")
    manager = actor_name(demo_config, MANAGER)
    before = exported(demo_config)
    observed = [
        s
        for s in before
        if s.get("context", {}).get("instructor", {}).get("account", {}).get("name") == manager
    ]
    assert observed

    invoke(demo_config, "erase", "--person", MANAGER, "--yes")
    after = exported(demo_config)
    added = after[len(before) :]
    voided = {s["object"]["id"] for s in added if s["verb"]["id"] == VOIDED}
    assert {s["id"] for s in observed} <= voided
    reissued = [s for s in added if s["verb"]["id"] != VOIDED]
    assert len(reissued) == len(observed)
    assert all("instructor" not in s["context"] for s in reissued)
    connection = db(demo_config)
    assert connection.execute(
        "SELECT count(*) FROM people WHERE manager_hr_id = ?", (MANAGER,)
    ).fetchone() == (0,)
    assert (
        connection.execute(
            "SELECT count(*) FROM people WHERE manager_hr_id = '(erased)'"
        ).fetchone()[0]
        > 0
    )


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
