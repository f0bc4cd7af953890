"""`xapi-lrs`: completions read back from a real LRS process, incrementally, voids included."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.connectors.xapi_source import StatementsStream
from adoptloop.http.client import RestClient
from tests.harness.lrs_server import LocalLRS, LRSInfo

runner = CliRunner()
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
COURSE = "http://adlnet.gov/expapi/activities/course"


def completion(email: str, module: str, verb: str = COMPLETED, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": f"mailto:{email}"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity",
            "id": f"https://lms.example-pharma.com/course/{module}",
            "definition": {"type": COURSE, "name": {"en-US": f"Module {module}"}},
        },
        "result": {"completion": True, "score": {"scaled": 0.8}},
        "timestamp": "2026-02-03T10:00:00.000Z",
        **extra,
    }


def post(lrs: LocalLRS, statements: list[dict[str, Any]]) -> None:
    with lrs.client() as http:
        http.post("statements", json=statements).raise_for_status()


def write_config(tmp: Path, info: LRSInfo) -> Path:
    (tmp / "people.csv").write_text(
        "hr_id,first_name,last_name,email,role,valid_from\n"
        "E1,Ada,Rep,ada@example-pharma.com,rep,2025-01-01\n"
        "E2,Bo,Rep,bo@example-pharma.com,rep,2025-01-01\n"
    )
    (tmp / "key.txt").write_text("a-test-key-that-is-long-enough\n")
    (tmp / "capabilities.yaml").write_text(
        "scales: {five: {min: 1, max: 5}}\n"
        "capabilities: [{id: opening, name: Opening, threshold: 0.75}]\n"
        "modules: {'https://lms.example-pharma.com/course/OPEN': [opening]}\n"
    )
    config = tmp / "adoptloop.yaml"
    config.write_text(
        f"""
store: {{url: sqlite:///state.db}}
xapi:
  namespace: https://xapi.example-pharma.com/adoptloop
  actor: {{home_page: https://hr.example-pharma.com, key: "${{file:key.txt}}"}}
capability_map: capabilities.yaml
sources:
  hris: {{type: file-people, path: people.csv}}
  lms:
    type: xapi-lrs
    lrs: {{endpoint: "{info.endpoint}", username: "${{LRS_USER}}", password: "${{LRS_PASS}}"}}
adoption: {{as_of: 2026-06-30, output_dir: out}}
"""
    )
    return config


def run(config: Path, info: LRSInfo) -> None:
    env = {"LRS_USER": info.username, "LRS_PASS": info.password}
    result = runner.invoke(app, ["run", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output


def completions(config: Path) -> list[tuple[str, str, str, int]]:
    db = sqlite3.connect(config.parent / "state.db")
    rows = db.execute(
        "SELECT hr_id, module_id, status, deleted FROM completions ORDER BY hr_id, module_id"
    ).fetchall()
    return [(r[0], r[1].rsplit("/", 1)[-1], r[2], r[3]) for r in rows]


def test_completions_are_read_incrementally_and_voids_become_deletions(
    tmp_path: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    lrs, info = local_lrs
    config = write_config(tmp_path, info)
    first = completion("ada@example-pharma.com", "OPEN")
    post(lrs, [first, completion("bo@example-pharma.com", "OPEN", PASSED)])
    run(config, info)
    assert completions(config) == [("E1", "OPEN", "completed", 0), ("E2", "OPEN", "passed", 0)]

    post(lrs, [completion("ada@example-pharma.com", "CLOSE")])
    run(config, info)
    assert ("E1", "CLOSE", "completed", 0) in completions(config)
    db = sqlite3.connect(config.parent / "state.db")
    counts = db.execute("SELECT counts FROM runs ORDER BY started_at DESC").fetchone()[0]
    assert '"read":1' in counts.replace(" ", "")  # the second run read only the new statement

    void = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:lms@example-pharma.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": first["id"]},
        "timestamp": "2026-02-04T10:00:00.000Z",
    }
    post(lrs, [void])
    run(config, info)
    assert ("E1", "OPEN", "completed", 1) in completions(config)


def test_unknown_learners_are_quarantined_and_is_owns_ignored(
    tmp_path: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    lrs, info = local_lrs
    config = write_config(tmp_path, info)
    own = completion("ada@example-pharma.com", "OWN")
    own["context"] = {
        "extensions": {
            "https://xapi.example-pharma.com/adoptloop/extensions/adoptloop-version": "0.1.0"
        }
    }
    post(lrs, [completion("nobody@example-pharma.com", "OPEN"), own])
    run(config, info)
    assert completions(config) == []
    db = sqlite3.connect(config.parent / "state.db")
    reasons = [r[0] for r in db.execute("SELECT reason FROM quarantine WHERE stream = 'users'")]
    assert len(reasons) == 1  # the unknown learner, once; their completion waits in the store
    assert "matches no HR record" in reasons[0]
    assert db.execute("SELECT count(*) FROM parked").fetchone() == (1,)


def test_reading_follows_more_links_across_pages(local_lrs: tuple[LocalLRS, LRSInfo]) -> None:
    lrs, info = local_lrs
    posted = [completion(f"r{n}@example-pharma.com", f"M{n}") for n in range(7)]
    post(lrs, posted)
    auth = httpx.BasicAuth(info.username, info.password)
    headers = {"X-Experience-API-Version": "1.0.3"}
    with RestClient(info.endpoint, service="LRS", auth=auth, headers=headers) as client:
        stream = StatementsStream(client, info.endpoint, verb=COMPLETED, since=None, limit=3)
        read = [s for page in stream.pages() for s in page.records]
    assert [s["id"] for s in read] == [s["id"] for s in posted]


def test_the_reader_recognises_the_version_extension_adoptloop_stamps_on_its_statements() -> None:
    """The connector knows no xAPI package, so it declares the extension's IRI tail itself;
    this pins it to the one the translator stamps (vocab.EXT_VERSION in any namespace)."""
    from adoptloop.connectors.xapi_source import _is_own
    from adoptloop.xapi import vocab

    stamped = vocab.Namespace("https://acme.example/xapi").extension(vocab.EXT_VERSION)
    assert _is_own({"context": {"extensions": {stamped: "1.2.3"}}})
    assert not _is_own({"context": {"extensions": {stamped + "-not": "1.2.3"}}})
    assert not _is_own({"context": {}})
