"""Retention: each class of data is deleted from the store once it is older than configured.

| class (retention.*)      | what is deleted                                                      | age from |
|--------------------------|----------------------------------------------------------------------|----------|
| source_records_days      | completions, coaching visits (+ ratings), development actions, calls | the event's own date |
|                          | HR rows superseded by a later row                                    | valid_to |
|                          | people terminated before the cutoff (all HR rows, identities)        | termination_date |
| statement_archive_days   | statements in the store's outbox; with an LRS only delivered or      | created_at |
|                          | rejected ones (pending statements are never deleted)                 |          |
| quarantine_days          | quarantine entries not seen (or resolved) since                      | updated_at |
| run_log_days             | run history, except the last run of each job                         | finished_at |

Statements already in the LRS are not touched (the LRS has its own retention), and nothing is
voided: a purge is not a deletion at the source. A source that still exports records older
than the cutoff brings them back at the next pull; they are purged again the next night.
The deletions themselves are store/retention.py's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from adoptloop.settings.model import Settings
from adoptloop.store import locks, runs
from adoptloop.store import retention as store_retention
from adoptloop.store.retention import Cutoffs

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)


def cutoffs(settings: Settings, now: datetime) -> Cutoffs:
    """The `retention:` days as the moments before which each class is deleted."""
    r = settings.retention

    def before(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    records = before(r.source_records_days)
    return Cutoffs(
        source_records=None if records is None else records.date(),
        statement_archive=before(r.statement_archive_days),
        quarantine=before(r.quarantine_days),
        run_logs=before(r.run_log_days),
    )


def purge(
    engine: Engine, settings: Settings, *, now: datetime | None = None, dry_run: bool = False
) -> dict[str, int]:
    """Delete (or, with dry_run, count) what retention says is too old; counts per table."""
    return store_retention.purge(
        engine,
        cutoffs(settings, now or datetime.now(UTC)),
        keep_pending=settings.delivery.target == "lrs",  # with an LRS: never undelivered ones
        dry_run=dry_run,
    )


def run_purge(
    engine: Engine,
    settings: Settings,
    *,
    scheduled_for: str | None = None,
    holder: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The purge as a recorded run (pipeline `retention`), under the store's run lock."""
    holder = holder or locks.node_id("retention")
    lease = settings.schedule.lock_lease_seconds
    with locks.hold(engine, locks.RUN, holder=holder, lease_seconds=lease):
        run_id = runs.open_run(engine, "retention", scheduled_for, holder=holder)
        if run_id is None:
            log.info("already done; skipped", pipeline="retention", scheduled_for=scheduled_for)
            return {"status": "skipped"}
        started = datetime.now(UTC)
        try:
            deleted = purge(engine, settings, now=now)
        except BaseException as exc:
            with engine.begin() as conn:
                runs.finish_run(conn, run_id, "failed", {}, error=exc.__class__.__name__)
            raise
        seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
        counts = {"purge": {**deleted, "seconds": seconds}}
        with engine.begin() as conn:
            runs.finish_run(conn, run_id, "succeeded", counts)
    log.info("purged", run_id=run_id, **deleted)
    return {"status": "succeeded", "run_id": run_id, **counts}
