"""The `schedule:` and `retention:` sections: when `serve` runs what, and how long data is kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from adoptloop.fields import ConfigPath, Frozen


def _check_cron(value: str) -> str:
    # The full parse is APScheduler's, at `serve` start (scheduler/jobs.py); this catches the
    # common mistakes where they are written.
    fields = value.split()
    if len(fields) not in (5, 6) or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(
            f"{value!r} is not a crontab expression: 5 fields (minute hour day month "
            "day-of-week), or 6 with a leading seconds field"
        )
    return " ".join(fields)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return value


_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#-]+")
Cron = Annotated[str, AfterValidator(_check_cron)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]


class SourceSchedule(Frozen):
    """A source pulled on its own schedule (then translate, deliver, adoption, as every run)."""

    cron: Cron | None = Field(default=None, description="Its own crontab; default: the nightly")
    timezone: TimeZone | None = Field(default=None, description="Default: schedule.timezone")
    stale_after_hours: float | None = Field(
        default=None, gt=0, description="Default: schedule.health.stale_after_hours"
    )


class WorkerSettings(Frozen):
    workers: int = Field(
        default=1, ge=0, le=16, description="Delivery workers per `serve` process (0: none)"
    )
    poll_seconds: float = Field(default=30.0, gt=0, description="How often an idle worker looks")
    lease_seconds: float | None = Field(
        default=None,
        gt=0,
        description="How long a claimed outbox row is reserved; after it, another worker may "
        "claim it (default: delivery.lrs.max_retry_seconds + 2 * timeout_seconds + 60)",
    )


class HealthSettings(Frozen):
    status_file: ConfigPath | None = Field(
        default=Path("state/status.json"),
        validate_default=True,  # relative to the config file
        description="JSON status written by `serve` for monitors (null: none)",
    )
    host: str = Field(default="127.0.0.1", description="Where the health endpoint listens")
    port: int | None = Field(
        default=None, ge=0, le=65535, description="Health endpoint port (null: no endpoint)"
    )
    stale_after_hours: float = Field(
        default=36.0, gt=0, description="A source not pulled for this long is unhealthy"
    )


class ScheduleSettings(Frozen):
    """`adoptloop serve`: when the pipeline runs, and how the processes share the work."""

    cron: Cron = Field(default="0 2 * * *", description="When the nightly run starts (crontab)")
    timezone: TimeZone = Field(default="UTC", description="The time zone of every cron here")
    catch_up: bool = Field(
        default=True,
        description="At start, run once when the last scheduled run did not succeed (missed "
        "while down, interrupted or failed)",
    )
    sources: dict[str, SourceSchedule] = Field(
        default_factory=dict, description="Per-source overrides, keyed by source name"
    )
    standby_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often a standby `serve` tries to take over"
    )
    lock_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        description="SQLite: a lock whose holder stopped renewing it is free after this long "
        "(PostgreSQL uses advisory locks, released when the holder's connection ends)",
    )
    delivery: WorkerSettings = WorkerSettings()
    health: HealthSettings = HealthSettings()

    @model_validator(mode="before")
    @classmethod
    def _validate_omitted_sections(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {"health": {}, **data}
        return data


class RetentionSettings(Frozen):
    """How long each class of data is kept; purged by `serve` on `cron` or `retention purge`."""

    source_records_days: int | None = Field(
        default=None,
        ge=1,
        description="Completions, coaching visits and ratings, development actions, calls and "
        "superseded or terminated HR rows older than this (null: kept)",
    )
    statement_archive_days: int | None = Field(
        default=None,
        ge=1,
        description="Statements in the store older than this; with an LRS only delivered or "
        "rejected ones (null: kept)",
    )
    quarantine_days: int | None = Field(
        default=180, ge=1, description="Quarantine entries not seen again for this long"
    )
    run_log_days: int | None = Field(
        default=400, ge=1, description="Run history (the last run of each job is always kept)"
    )
    cron: Cron = Field(default="30 3 * * *", description="When `serve` purges (schedule.timezone)")
