"""Delivery of the demo's statements to a real LRS process on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from adoptloop.cli.app import app
from tests.harness.lrs_server import LocalLRS, LRSInfo

runner = CliRunner()


def _point_at_lrs(config: Path, info: LRSInfo, *, extra: str = "") -> dict[str, str]:
    """Deliver the demo to the LRS at `info`; `extra`: more lines of `delivery.lrs`."""
    text = config.read_text()
    text = text.replace(
        "  target: store                          # keep statements in the store; see README for an LRS",
        "  target: lrs\n"
        "  lrs:\n"
        f"    endpoint: {info.endpoint}\n"
        "    username: ${LRS_USER}\n"
        "    password: ${LRS_PASS}\n"
        "    batch_size: 400\n" + extra,
    )
    assert "target: lrs" in text
    config.write_text(text)
    return {"LRS_USER": info.username, "LRS_PASS": info.password}


def _run(config: Path, env: dict[str, str]) -> dict[str, Any]:
    result = runner.invoke(app, ["run", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(config.parent / "state" / "demo.db")
    counts: dict[str, Any] = json.loads(
        db.execute("SELECT counts FROM runs ORDER BY started_at DESC").fetchone()[0]
    )
    return counts


def statement_ids(config: Path) -> list[str]:
    """The ids of every statement in the demo store's outbox."""
    with sqlite3.connect(config.parent / "state" / "demo.db") as db:
        return [sid for (sid,) in db.execute("SELECT statement_id FROM outbox ORDER BY seq")]


def test_demo_statements_reach_the_lrs_once_and_a_rerun_sends_nothing(
    demo_config: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    lrs, info = local_lrs
    env = _point_at_lrs(demo_config, info)

    first = _run(demo_config, env)
    db = sqlite3.connect(demo_config.parent / "state" / "demo.db")
    made = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    pending = db.execute("SELECT count(*) FROM outbox WHERE state != 'delivered'").fetchone()[0]
    assert pending == 0
    assert first["deliver"]["stored"] == made
    assert lrs.holds(statement_ids(demo_config))

    second = _run(demo_config, env)
    assert second["deliver"]["sent"] == 0
    assert lrs.holds(statement_ids(demo_config))


def test_statements_already_in_the_lrs_count_as_stored_on_resend(
    demo_config: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    """A crash after the LRS stored a batch but before we recorded it: the re-send is not a loss."""
    lrs, info = local_lrs
    env = _point_at_lrs(demo_config, info)
    _run(demo_config, env)
    db = sqlite3.connect(demo_config.parent / "state" / "demo.db")
    db.execute("UPDATE outbox SET state = 'pending', delivered_at = NULL")
    db.commit()
    made = db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    counts = _run(demo_config, env)
    assert counts["deliver"]["stored"] == made
    assert counts["deliver"]["rejected"] == 0
    assert lrs.holds(statement_ids(demo_config))
