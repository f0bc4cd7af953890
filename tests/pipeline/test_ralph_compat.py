"""Delivery of the demo's statements to a second real LRS: ralph (openfun), on 127.0.0.1.

ralph differs from the local LRS where it matters to delivery: it answers 204 (not 200) to a
batch it holds already and 422 (not 400) to an invalid statement. What else it does is written
up in tests/harness/ralph_server.py.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.xapi.validate import is_valid
from tests.harness.lrs_server import LRSInfo
from tests.harness.ralph_server import RalphLRS, ralph_available
from tests.pipeline.test_deliver_to_lrs import _point_at_lrs
from tests.support import copy_demo, install_ralph, require

pytestmark = pytest.mark.slow

runner = CliRunner()


@pytest.fixture(scope="session")
def _ralph_installed() -> None:
    install_ralph()


@pytest.fixture
def ralph(_ralph_installed: None) -> Iterator[RalphLRS]:
    require("ralph LRS", ralph_available())
    with RalphLRS() as lrs:
        yield lrs


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "config")


def _point_at_ralph(config: Path, info: LRSInfo) -> dict[str, str]:
    """As for the local LRS, plus a short retry budget: a 5xx from ralph then fails the test
    in seconds instead of being retried for ten minutes."""
    return _point_at_lrs(config, info, extra="    max_retry_seconds: 10\n")


def _run(config: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = runner.invoke(app, ["run", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    with closing(_db(config)) as db:
        row = db.execute("SELECT counts FROM runs ORDER BY started_at DESC").fetchone()
    counts: dict[str, Any] = json.loads(row[0])
    return counts


def _db(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "state" / "demo.db")


def _outbox_states(config: Path) -> dict[str, int]:
    with closing(_db(config)) as db:
        rows = db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
    return {state: int(n) for state, n in rows}


def _outbox_ids(config: Path) -> set[str]:
    with closing(_db(config)) as db:
        return {sid for (sid,) in db.execute("SELECT statement_id FROM outbox")}


def _ids_in(ralph: RalphLRS) -> list[str]:
    return [str(s["id"]) for s in ralph.statements()]


def test_the_demo_reaches_ralph_once_and_a_rerun_sends_nothing(demo: Path, ralph: RalphLRS) -> None:
    env = _point_at_ralph(demo, ralph.info)

    first = _run(demo, env)
    made = _outbox_ids(demo)
    assert _outbox_states(demo) == {"delivered": len(made)}
    assert first["deliver"]["stored"] == len(made)
    assert first["deliver"]["rejected"] == 0
    held = _ids_in(ralph)
    assert len(held) == len(made)
    assert set(held) == made

    second = _run(demo, env)
    assert second["deliver"]["sent"] == 0
    assert len(_ids_in(ralph)) == len(made)


def test_a_resend_after_a_crash_is_stored_by_ralphs_204_without_duplicates(
    demo: Path, ralph: RalphLRS
) -> None:
    """A crash after ralph stored the batches but before we recorded it: ralph answers 204 to
    statements it holds already, and that counts as stored, not as a loss or a rejection."""
    env = _point_at_ralph(demo, ralph.info)
    _run(demo, env)
    posts_before = len(ralph.post_statuses())
    with closing(_db(demo)) as db:
        db.execute("UPDATE outbox SET state = 'pending', delivered_at = NULL")
        db.commit()
    made = _outbox_ids(demo)

    counts = _run(demo, env)

    assert counts["deliver"]["sent"] == len(made)
    assert counts["deliver"]["stored"] == len(made)
    assert counts["deliver"]["rejected"] == 0
    assert _outbox_states(demo) == {"delivered": len(made)}
    resend_statuses = ralph.post_statuses()[posts_before:]
    assert resend_statuses, "nothing was re-sent"
    assert set(resend_statuses) == {204}
    held = _ids_in(ralph)
    assert len(held) == len(made)
    assert set(held) == made


def test_an_invalid_statement_is_bisected_out_and_quarantined_with_ralphs_422_reason(
    demo: Path, ralph: RalphLRS
) -> None:
    _run(demo)  # delivery target `store`: the outbox fills, nothing is sent
    with closing(_db(demo)) as db:
        kind, hr_id, created_run, payload = db.execute(
            "SELECT kind, hr_id, created_run, payload FROM outbox ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        # We never make an invalid statement, so insert one by hand: a verb without an id.
        # (ralph's model checks only actor, id, verb.id and object.id; it accepts, for example,
        # a timestamp without a time zone, which our validator rejects.)
        bad = json.loads(payload)
        bad["id"] = str(uuid.uuid4())
        bad["verb"] = {"display": {"en-US": "completed"}}
        assert not is_valid(bad)
        db.execute(
            "INSERT INTO outbox (statement_id, kind, hr_id, payload, created_run, state)"
            " VALUES (?, ?, ?, ?, ?, 'pending')",
            (bad["id"], kind, hr_id, json.dumps(bad, separators=(",", ":")), created_run),
        )
        db.commit()
    good = _outbox_ids(demo) - {bad["id"]}
    assert len(good) % 400 != 0  # the bad statement shares the last batch of 400 with others
    env = _point_at_ralph(demo, ralph.info)

    counts = _run(demo, env)

    assert counts["deliver"]["stored"] == len(good)
    assert counts["deliver"]["rejected"] == 1
    assert _outbox_states(demo) == {"delivered": len(good), "rejected": 1}
    with closing(_db(demo)) as db:
        (error,) = db.execute(
            "SELECT error FROM outbox WHERE statement_id = ?", (bad["id"],)
        ).fetchone()
        quarantined = db.execute(
            "SELECT source, stream, reason FROM quarantine WHERE record_key = ?", (bad["id"],)
        ).fetchall()
    assert error.startswith("HTTP 422: ")
    assert "'loc': ['body', 0, 'verb', 'id']" in error  # ralph's reason, for the lone statement
    assert "Field required" in error
    assert quarantined == [("lrs", "delivery", error)]
    assert ralph.post_statuses().count(422) > 1  # the batch, then halves of it: bisected
    held = _ids_in(ralph)
    assert len(held) == len(good)
    assert set(held) == good
