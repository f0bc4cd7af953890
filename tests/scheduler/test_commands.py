"""The operations commands: run's exit status under the lock, status, runs, quarantine retry,
retention purge, the health endpoint, and how a crashing job is logged."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from adoptloop import logging as adoptloop_logging
from adoptloop.cli.app import app
from adoptloop.connectors.registry import Registry
from adoptloop.pipeline.run import Environment
from adoptloop.scheduler.health import HealthServer, reason_kind
from adoptloop.scheduler.jobs import build_jobs
from adoptloop.scheduler.service import Service
from adoptloop.settings.model import load_settings
from adoptloop.store import locks
from adoptloop.store.db import open_store

runner = CliRunner()


def _invoke(config: Path, *args: str) -> Any:
    return runner.invoke(app, [*args, "--config", str(config)])


def _ok(config: Path, *args: str) -> str:
    result = _invoke(config, *args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def _store(config: Path) -> str:
    return f"sqlite:///{config.parent / 'state' / 'demo.db'}"


def test_run_exits_75_and_writes_no_run_while_another_process_holds_the_run_lock(
    demo_config: Path,
) -> None:
    engine = open_store(_store(demo_config))
    try:
        with locks.hold(engine, locks.RUN, holder="elsewhere:1:x", lease_seconds=60):
            result = _invoke(demo_config, "run")
        assert result.exit_code == 75
        assert "another adoptloop process holds the 'run' lock" in result.stderr
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM runs").scalar() == 0
    finally:
        engine.dispose()
    _ok(demo_config, "run")  # free again


def test_status_reports_freshness_backlog_and_quarantine_by_reason(demo_config: Path) -> None:
    fresh = _invoke(demo_config, "status", "--json", "--check")
    assert fresh.exit_code == 4  # never pulled: a monitor should hear about it
    assert "source hris was never pulled successfully" in json.loads(fresh.stdout)["problems"]

    _ok(demo_config, "run")
    report = json.loads(_ok(demo_config, "status", "--json", "--check"))
    text = _ok(demo_config, "status", "--check")

    assert report["ok"] is True
    assert set(report["sources"]) == {"hris", "lms", "crm"}
    assert all(not s["stale"] and s["last_success"] for s in report["sources"].values())
    assert report["last_runs"]["nightly"]["status"] == "succeeded"
    assert set(report["last_runs"]["nightly"]["stages"]) >= {"pull", "translate", "deliver"}
    assert report["outbox"]["pending"] > 2000
    listed = _ok(demo_config, "quarantine", "list", "--json").splitlines()
    assert report["quarantine"]["open"] == len(listed) > 0
    assert sum(g["count"] for g in report["quarantine"]["by_reason"]) == len(listed)
    assert {
        "source": "lms",
        "stream": "completions",
        "reason": "completed_at: '…' is not an ISO 8601 date-time",
        "count": 1,
    } in report["quarantine"]["by_reason"]
    assert f"quarantine: {len(listed)} open" in text
    assert "health: ok" in text


def test_runs_lists_the_history_with_stage_durations(demo_config: Path) -> None:
    _ok(demo_config, "run")
    _ok(demo_config, "run")

    lines = _ok(demo_config, "runs", "--json").splitlines()

    runs = [json.loads(line) for line in lines]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert all(r["counts"]["pull"]["seconds"] >= 0 for r in runs)


def test_quarantine_retry_reads_a_stream_again_once_the_cause_is_fixed(
    demo_config: Path,
) -> None:
    _ok(demo_config, "run")
    before = _open(demo_config, "crm", "reports")
    assert any("rating 7 for Opening_Rating__c" in reason for reason in before)
    capabilities = demo_config.parent / "demo" / "capabilities.yaml"
    capabilities.write_text(
        capabilities.read_text()
        .replace(
            "  five-point: {min: 1, max: 5}",
            "  five-point: {min: 1, max: 5}\n  seven: {min: 1, max: 7}",
        )
        .replace(
            "Opening_Rating__c: {capability: opening, scale: five-point}",
            "Opening_Rating__c: {capability: opening, scale: seven}",
        )
    )
    _ok(demo_config, "run")  # the CRM export did not change: the report is not read again
    assert _open(demo_config, "crm", "reports") == before

    preview = _ok(demo_config, "quarantine", "retry", "--source", "crm", "--dry-run")
    assert "streams would be read again in full: crm.reports" in preview
    _ok(demo_config, "quarantine", "retry", "--source", "crm", "--stream", "reports")
    _ok(demo_config, "run")

    after = _open(demo_config, "crm", "reports")
    assert len(after) == len(before) - 1
    assert not any("Opening_Rating__c" in reason for reason in after)


def _open(config: Path, source: str, stream: str) -> list[str]:
    lines = _ok(config, "quarantine", "list", "--json").splitlines()
    entries = [json.loads(line) for line in lines]
    return sorted(e["reason"] for e in entries if (e["source"], e["stream"]) == (source, stream))


def test_quarantine_retry_sends_rejected_statements_again(demo_config: Path) -> None:
    _ok(demo_config, "run")
    engine = open_store(_store(demo_config))
    try:
        with engine.begin() as conn:
            sid = conn.exec_driver_sql("SELECT statement_id FROM outbox LIMIT 1").scalar()
            conn.exec_driver_sql(
                "UPDATE outbox SET state = 'rejected', error = 'HTTP 400' WHERE statement_id = ?",
                (sid,),
            )
            conn.exec_driver_sql(
                "INSERT INTO quarantine (source, stream, record_key, location, reason, "
                "first_seen_run, last_seen_run, resolved) "
                "VALUES ('lrs', 'delivery', ?, 'outbox', 'HTTP 400', 'r', 'r', 0)",
                (sid,),
            )
        out = _ok(demo_config, "quarantine", "retry", "--source", "lrs")
        with engine.connect() as conn:
            state = conn.exec_driver_sql(
                "SELECT state, error FROM outbox WHERE statement_id = ?", (sid,)
            ).one()
    finally:
        engine.dispose()
    assert "1 rejected statements will be sent again" in out
    assert tuple(state) == ("pending", None)


def test_retention_purge_previews_then_deletes(demo_config: Path) -> None:
    demo_config.write_text(demo_config.read_text() + "\nretention:\n  quarantine_days: 1\n")
    _ok(demo_config, "run")

    assert "would delete: quarantine 0, runs 0" in _ok(
        demo_config, "retention", "purge", "--dry-run"
    )
    assert "deleted: quarantine 0, runs 0" in _ok(demo_config, "retention", "purge")
    assert "retention" in _ok(demo_config, "runs")


def test_the_health_endpoint_answers_503_while_there_are_problems() -> None:
    report = {"ok": False, "problems": ["source crm: data is 40 hours old (limit 36)"]}
    server = HealthServer("127.0.0.1", 0, lambda: report)
    server.start()
    try:
        alive = httpx.get(server.url + "healthz", timeout=10)
        sick = httpx.get(server.url + "status", timeout=10)
        report.update(ok=True, problems=[])
        well = httpx.get(server.url + "status", timeout=10)
    finally:
        server.stop()
    assert alive.status_code == 200
    assert (sick.status_code, sick.json()["problems"]) == (
        503,
        report["problems"] or sick.json()["problems"],
    )
    assert well.status_code == 200


def test_quarantine_reasons_are_grouped_without_their_values() -> None:
    assert reason_kind("completed_at: '2026-13-01T10:00:00Z' is not an ISO 8601 date-time") == (
        "completed_at: '…' is not an ISO 8601 date-time"
    )
    assert reason_kind("unknown person: crm user 0051t000000HneCAAS (observed)") == (
        "unknown person: crm user <id> (observed)"
    )


def test_a_crashing_job_is_logged_with_its_traceback_but_without_local_variables(
    demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(demo_config, Registry.from_entry_points())
    env = Environment.open(settings, Registry.from_entry_points())
    service = Service(env)
    stream = io.StringIO()
    adoptloop_logging.configure(json=True, stream=stream)

    def crash(*_args: object, **_kwargs: object) -> NoReturn:
        api_token = "local-value-that-must-not-be-logged"
        raise RuntimeError(f"boom ({len(api_token)})")

    monkeypatch.setattr("adoptloop.scheduler.service.run_pipeline", crash)
    try:
        service._run_job(build_jobs(settings)[0])
    finally:
        env.engine.dispose()
        structlog.reset_defaults()

    (crashed,) = [json.loads(line) for line in stream.getvalue().splitlines() if "crashed" in line]
    assert crashed["event"] == "job crashed"
    assert crashed["job"] == "nightly"  # context bound inside the job
    assert "RuntimeError" in json.dumps(crashed["exception"])
    assert "local-value-that-must-not-be-logged" not in stream.getvalue()
