"""Retention: each data class is purged by its own age, and nothing younger is touched."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adoptloop.connectors.registry import Registry
from adoptloop.scheduler.retention import purge, run_purge
from adoptloop.settings.model import Settings, load_settings
from adoptloop.store import outbox, quarantine, records, runs, schema
from adoptloop.store.outbox import Queued
from adoptloop.store.quarantine import QuarantineEntry
from tests.store.stores import point_demo_at
from tests.store.test_records import ANNA
from tests.support import copy_demo

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def _settings(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    store_url: str,
    retention: str,
    target: str = "store",
) -> Settings:
    config = copy_demo(tmp_path / "config")
    for name, value in point_demo_at(config, store_url).items():
        monkeypatch.setenv(name, value)
    text = config.read_text() + f"\nretention:\n{retention}\n"
    if target == "lrs":
        text = text.replace(
            "  target: store ",
            "  target: lrs\n  lrs:\n    endpoint: http://127.0.0.1:9/xAPI/\n  #",
        )
    config.write_text(text)
    return load_settings(config, Registry.from_entry_points())


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _seed(engine: Engine) -> None:
    old, new = "2023-01-10T10:00:00.000000Z", "2026-06-01T10:00:00.000000Z"
    with engine.begin() as conn:
        records.upsert_people(conn, [replace(ANNA, valid_from=date(2020, 1, 1))])
        records.terminate_people(conn, ["E1"], date(2023, 2, 1))
        for rid, when in (("old", "2023-01-10T10:00:00.000Z"), ("new", "2026-06-01T10:00:00.000Z")):
            records.upsert_source_rows(
                conn,
                "completions",
                "lms",
                [
                    {
                        "record_id": rid,
                        "hr_id": "E1",
                        "module_id": "m1",
                        "module_title": None,
                        "status": "completed",
                        "completed_at": when,
                        "score": None,
                    }
                ],
            )
        outbox.enqueue(
            conn,
            [
                Queued("00000000-0000-4000-8000-000000000001", "completed", b"{}", "E1"),
                Queued("00000000-0000-4000-8000-000000000002", "completed", b"{}", "E1"),
            ],
            "run-1",
        )
        conn.execute(
            schema.outbox.update()
            .where(schema.outbox.c.statement_id.endswith("1"))
            .values(created_at=old, state="delivered")
        )
        quarantine.quarantine(conn, "run-1", [QuarantineEntry("lms", "c", "k1", "x", "bad")])
        quarantine.quarantine(conn, "run-1", [QuarantineEntry("lms", "c", "k2", "x", "bad")])
        conn.execute(
            schema.quarantine.update()
            .where(schema.quarantine.c.record_key == "k1")
            .values(updated_at=old)
        )
        for pipeline, started in (("nightly", old), ("nightly", new), ("retention", old)):
            run_id = runs.claim_run(conn, pipeline, started)
            assert run_id is not None
            runs.finish_run(conn, run_id, "succeeded", {})
            conn.execute(
                schema.runs.update()
                .where(schema.runs.c.run_id == run_id)
                .values(started_at=started, finished_at=started)
            )


def test_purge_deletes_each_class_by_its_own_age(
    engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(engine)
    settings = _settings(
        monkeypatch,
        tmp_path,
        store_url,
        "  source_records_days: 730\n  statement_archive_days: 365\n"
        "  quarantine_days: 90\n  run_log_days: 400",
    )

    preview = purge(engine, settings, now=NOW, dry_run=True)
    assert _count(engine, schema.completions) == 2  # a dry run changes nothing
    deleted = purge(engine, settings, now=NOW)

    assert deleted == preview
    assert deleted["completions"] == 1
    # a person who left in 2023: the superseded row, then the terminated one, and identities
    assert (deleted["people_history"], deleted["people_terminated"]) == (1, 1)
    assert _count(engine, schema.people) == 0
    assert deleted["statements"] == 1
    assert deleted["quarantine"] == 1
    assert deleted["runs"] == 1  # the old nightly; the only retention run is the last one
    with engine.connect() as conn:
        assert conn.execute(select(schema.completions.c.record_id)).scalars().all() == ["new"]
        assert conn.execute(select(schema.quarantine.c.record_key)).scalars().all() == ["k2"]
    assert purge(engine, settings, now=NOW) == dict.fromkeys(deleted, 0)


def test_with_an_lrs_pending_statements_are_never_purged(
    engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(engine)
    with engine.begin() as conn:
        conn.execute(schema.outbox.update().values(state="pending", created_at="2020-01-01"))
    settings = _settings(
        monkeypatch, tmp_path, store_url, "  statement_archive_days: 30", target="lrs"
    )

    assert purge(engine, settings, now=NOW)["statements"] == 0
    assert _count(engine, schema.outbox) == 2


def test_without_retention_settings_only_the_defaults_apply(
    engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(engine)
    settings = _settings(monkeypatch, tmp_path, store_url, "  cron: '0 4 * * *'")

    deleted = purge(engine, settings, now=NOW)

    assert set(deleted) == {"quarantine", "runs"}  # 180 and 400 days by default
    assert _count(engine, schema.completions) == 2


def test_a_scheduled_purge_is_recorded_once_as_a_run(
    engine: Engine, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, tmp_path, store_url, "  quarantine_days: 30")

    first = run_purge(engine, settings, scheduled_for="2026-06-30T03:30:00Z", now=NOW)
    again = run_purge(engine, settings, scheduled_for="2026-06-30T03:30:00Z", now=NOW)

    assert first["status"] == "succeeded"
    assert again == {"status": "skipped"}
    with engine.connect() as conn:
        (run,) = runs.recent_runs(conn)
    assert (run["pipeline"], run["status"]) == ("retention", "succeeded")
    assert "seconds" in run["counts"]["purge"]
