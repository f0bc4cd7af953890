"""What `serve` schedules, when, and which scheduled run is due at start.

Jobs come from the YAML: `nightly` (every source without its own cron), `source:<name>` for a
source with its own cron, and `retention` (the purge). A cron has 5 crontab fields, or 6 with
a leading seconds field; day-of-week numbers are crontab's (0 or 7 = Sunday), translated for
APScheduler 3, which counts from Monday.

Catch-up is decided from the `runs` table, never from APScheduler's job store (whose default
one-second misfire grace, and `replace_existing` on re-adding jobs, both drop a missed run):
at start, a job is due when its latest fire time has passed and no run of it succeeded since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from adoptloop.errors import ConfigError
from adoptloop.settings.model import Settings
from adoptloop.store import runs

if TYPE_CHECKING:
    from sqlalchemy import Connection

NIGHTLY = "nightly"
RETENTION = "retention"

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEARCH_BACK = (
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=5 * 366),
)


@dataclass(frozen=True)
class JobSpec:
    name: str  # APScheduler job id, and `runs.pipeline`
    kind: Literal["pipeline", "retention"]
    cron: str
    timezone: str
    sources: frozenset[str] | None = None  # pipeline jobs: pull only these (None: all)

    @property
    def pipeline(self) -> str:
        return self.name

    def trigger(self) -> Any:  # CronTrigger (APScheduler 3 has no type hints)
        return cron_trigger(self.cron, self.timezone, what=f"job {self.name}")

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": self.name,
            "cron": self.cron,
            "timezone": self.timezone,
        }
        if self.kind == "pipeline":
            described["sources"] = sorted(self.sources) if self.sources is not None else "all"
        return described


def build_jobs(settings: Settings) -> list[JobSpec]:
    schedule = settings.schedule
    enabled = [name for name, config in settings.sources.items() if config.enabled]
    own = {
        name: override
        for name, override in schedule.sources.items()
        if override.cron is not None and name in enabled
    }
    nightly_sources = None if not own else frozenset(n for n in enabled if n not in own)
    jobs = [JobSpec(NIGHTLY, "pipeline", schedule.cron, schedule.timezone, nightly_sources)]
    for name, override in sorted(own.items()):
        assert override.cron is not None  # noqa: S101 - filtered above; for the type checker
        jobs.append(
            JobSpec(
                f"source:{name}",
                "pipeline",
                override.cron,
                override.timezone or schedule.timezone,
                frozenset({name}),
            )
        )
    retention = settings.retention
    if any(
        days is not None
        for days in (
            retention.source_records_days,
            retention.statement_archive_days,
            retention.quarantine_days,
            retention.run_log_days,
        )
    ):
        jobs.append(JobSpec(RETENTION, "retention", retention.cron, schedule.timezone))
    for job in jobs:
        job.trigger()  # a bad cron is a ConfigError at start, not at the first fire
    return jobs


def cron_trigger(cron: str, timezone: str, *, what: str = "cron") -> Any:
    fields = cron.split()
    if len(fields) not in (5, 6):
        raise ConfigError(f"{what}: cron {cron!r} needs 5 or 6 fields, not {len(fields)}")
    second, minute, hour, day, month, weekday = fields if len(fields) == 6 else ["0", *fields]
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            timezone=ZoneInfo(timezone),
        )
    except ValueError as exc:
        raise ConfigError(f"{what}: cron {cron!r} ({timezone}) is not valid: {exc}") from None


def crontab_weekdays(field: str) -> str:
    """Crontab day-of-week numbers (0/7 = Sunday) as names APScheduler 3 reads correctly."""
    items = []
    for item in field.split(","):
        match = re.fullmatch(r"(\d)(?:-(\d))?(?:/(\d+))?", item)
        if match is None:  # *, */2, names: the same in both
            items.append(item)
            continue
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else start
        step = int(match.group(3)) if match.group(3) else 1
        if start > 7 or end > 7 or end < start:
            raise ValueError(f"day of week {item!r} is not within 0-7")
        items.extend(_WEEKDAYS[n] for n in range(start, end + 1, step))
    return ",".join(dict.fromkeys(items))


def latest_fire_time(trigger: Any, now: datetime) -> datetime | None:
    """The last time `trigger` fired at or before `now` (None if never in five years)."""
    for back in _SEARCH_BACK:
        fire = trigger.get_next_fire_time(None, now - back)
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(None, fire + timedelta(microseconds=1))
        if latest is not None:
            return latest.astimezone(UTC)  # type: ignore[no-any-return]
    return None


def scheduled_key(fire: datetime) -> str:
    """`runs.scheduled_for` of a fire time: ISO 8601 UTC."""
    return fire.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def missed_run(conn: Connection, job: JobSpec, now: datetime) -> datetime | None:
    """The fire time to catch up at start, if any.

    Due when the job's latest fire time has passed and no run of the job succeeded for it or
    started after it: missed while the service was down, interrupted (SIGTERM, a crash) or
    failed. Only the latest is run, once, however many were missed.
    """
    fire = latest_fire_time(job.trigger(), now)
    if fire is None:
        return None
    done = runs.last_success_since(conn, job.pipeline, scheduled_key(fire), fire)
    return None if done is not None else fire
