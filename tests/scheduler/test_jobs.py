"""Which jobs `serve` schedules, when they fire, and which missed run is caught up at start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adoptloop.connectors.registry import Registry
from adoptloop.errors import ConfigError
from adoptloop.scheduler.jobs import (
    build_jobs,
    cron_trigger,
    crontab_weekdays,
    latest_fire_time,
    missed_run,
    scheduled_key,
)
from adoptloop.settings.model import Settings, load_settings
from adoptloop.store import runs, schema
from adoptloop.store.db import open_store
from tests.support import copy_demo


def _settings(tmp_path: Path, extra: str) -> Settings:
    config = copy_demo(tmp_path / "config")
    config.write_text(config.read_text() + "\n" + extra)
    return load_settings(config, Registry.from_entry_points())


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("crontab", "apscheduler"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,6", "sun,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("*", "*"),
        ("*/2", "*/2"),
        ("mon-fri", "mon-fri"),
    ],
)
def test_crontab_weekday_numbers_mean_what_crontab_means(crontab: str, apscheduler: str) -> None:
    assert crontab_weekdays(crontab) == apscheduler


def test_a_monday_cron_fires_on_monday_not_tuesday() -> None:
    trigger = cron_trigger("0 2 * * 1", "UTC")
    sunday = datetime(2026, 6, 28, 12, tzinfo=UTC)

    fire = trigger.get_next_fire_time(None, sunday)

    assert fire.weekday() == 0


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 1, 15, 1, tzinfo=UTC)),  # CET
        (datetime(2026, 7, 1, 12, tzinfo=UTC), datetime(2026, 7, 1, 0, tzinfo=UTC)),  # CEST
        (datetime(2026, 7, 1, 0, 0, 1, tzinfo=UTC), datetime(2026, 7, 1, 0, tzinfo=UTC)),
        (datetime(2026, 6, 30, 23, 59, tzinfo=UTC), datetime(2026, 6, 30, 0, tzinfo=UTC)),
    ],
)
def test_the_latest_fire_time_follows_the_configured_time_zone(
    now: datetime, expected: datetime
) -> None:
    trigger = cron_trigger("0 2 * * *", "Europe/Berlin")

    assert latest_fire_time(trigger, now) == expected


def test_a_leading_seconds_field_is_allowed() -> None:
    trigger = cron_trigger("*/10 * * * * *", "UTC")

    latest = latest_fire_time(trigger, datetime(2026, 7, 1, 12, 0, 7, tzinfo=UTC))

    assert latest == datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_an_invalid_cron_is_a_config_error_naming_the_job() -> None:
    with pytest.raises(ConfigError, match="job source:crm"):
        cron_trigger("0 25 * * *", "UTC", what="job source:crm")


def test_a_source_with_its_own_cron_gets_its_own_job(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        "schedule:\n  cron: '0 2 * * *'\n  timezone: Europe/Berlin\n"
        "  sources:\n    crm: {cron: '0 */4 * * *', timezone: UTC}\n",
    )

    jobs = {job.name: job for job in build_jobs(settings)}

    assert set(jobs) == {"nightly", "source:crm", "retention"}
    assert jobs["nightly"].sources == frozenset({"hris", "lms"})
    assert (jobs["source:crm"].cron, jobs["source:crm"].timezone) == ("0 */4 * * *", "UTC")
    assert jobs["source:crm"].sources == frozenset({"crm"})
    assert jobs["retention"].timezone == "Europe/Berlin"


def test_an_override_for_an_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"schedule.sources.crmm: no such source \(did you mean 'crm'\)"
    ):
        _settings(tmp_path, "schedule:\n  sources:\n    crmm: {cron: '0 * * * *'}\n")


def test_without_retention_there_is_no_purge_job(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "retention:\n  quarantine_days: null\n  run_log_days: null\n")

    assert [job.name for job in build_jobs(settings)] == ["nightly"]


NOW = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
TODAY_2AM = datetime(2026, 7, 1, 2, tzinfo=UTC)


def _nightly(tmp_path: Path) -> object:
    return build_jobs(_settings(tmp_path, "schedule:\n  cron: '0 2 * * *'\n"))[0]


def _finish(engine: Engine, fire: datetime | None, status: str) -> None:
    """A run of that fire time (None: a manual run now), started when it was scheduled."""
    with engine.begin() as conn:
        run_id = runs.claim_run(conn, "nightly", scheduled_key(fire) if fire else None)
        assert run_id is not None
        runs.finish_run(conn, run_id, status, {})
        if fire is not None:
            started = fire.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            conn.execute(
                schema.runs.update()
                .where(schema.runs.c.run_id == run_id)
                .values(started_at=started)
            )


def test_a_fresh_store_catches_up_the_latest_run_at_start(
    tmp_path: Path, sqlite_store: Engine
) -> None:
    job = _nightly(tmp_path)
    with sqlite_store.connect() as conn:
        assert missed_run(conn, job, NOW) == TODAY_2AM  # type: ignore[arg-type]


def test_a_run_missed_while_down_for_days_is_caught_up_once(
    tmp_path: Path, sqlite_store: Engine
) -> None:
    job = _nightly(tmp_path)
    _finish(sqlite_store, datetime(2026, 6, 27, 2, tzinfo=UTC), "succeeded")  # then down

    with sqlite_store.connect() as conn:
        due = missed_run(conn, job, NOW)  # type: ignore[arg-type]
    assert due == TODAY_2AM  # only the latest of the four missed nights
    _finish(sqlite_store, due, "succeeded")
    with sqlite_store.connect() as conn:
        assert missed_run(conn, job, NOW) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["interrupted", "failed", "running"])
def test_an_unfinished_latest_run_is_due_again_at_start(
    tmp_path: Path, sqlite_store: Engine, status: str
) -> None:
    job = _nightly(tmp_path)
    _finish(sqlite_store, TODAY_2AM, status)

    with sqlite_store.connect() as conn:
        assert missed_run(conn, job, NOW) == TODAY_2AM  # type: ignore[arg-type]


def test_a_manual_run_after_the_fire_time_counts_as_done(
    tmp_path: Path, sqlite_store: Engine
) -> None:
    job = _nightly(tmp_path)
    _finish(sqlite_store, None, "succeeded")  # `adoptloop run`, started now (after 02:00)

    with sqlite_store.connect() as conn:
        assert missed_run(conn, job, datetime.now(UTC)) is None  # type: ignore[arg-type]
