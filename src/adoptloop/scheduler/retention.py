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
On SQLite the purge runs with `secure_delete` and truncates the WAL afterwards, so deleted
rows do not linger in the file; on PostgreSQL autovacuum reclaims them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    delete,
    func,
    select,
    tuple_,
)
from sqlalchemy.exc import IntegrityError

from adoptloop.settings.model import Settings
from adoptloop.store import bookkeeping, locks, outbox, records, schema

log = structlog.get_logger(__name__)

CLASSES = ("source_records", "statement_archive", "quarantine", "run_logs")


@dataclass(frozen=True)
class Cutoffs:
    source_records: date | None
    statement_archive: datetime | None
    quarantine: datetime | None
    run_logs: datetime | None

    @classmethod
    def from_settings(cls, settings: Settings, now: datetime) -> Cutoffs:
        r = settings.retention

        def before(days: int | None) -> datetime | None:
            return None if days is None else now - timedelta(days=days)

        records = before(r.source_records_days)
        return cls(
            source_records=None if records is None else records.date(),
            statement_archive=before(r.statement_archive_days),
            quarantine=before(r.quarantine_days),
            run_logs=before(r.run_log_days),
        )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _deletions(
    conn: Connection, settings: Settings, cutoffs: Cutoffs
) -> list[tuple[str, Table, ColumnElement[bool]]]:
    """(counted as, table, which rows) in the order they are deleted."""
    out: list[tuple[str, Table, ColumnElement[bool]]] = []
    if cutoffs.source_records is not None:
        day = cutoffs.source_records
        obs, ratings = schema.observations, schema.ratings
        old_visits = select(obs.c.source, obs.c.record_id).where(obs.c.visit_date < day)
        actions = schema.development_actions
        people = schema.people
        terminated = select(people.c.hr_id).where(
            people.c.valid_to.is_(None)
            & (people.c.status == "terminated")
            & (people.c.termination_date < day)
        )
        gone = [str(h) for h in conn.execute(terminated).scalars()]
        out += [
            (
                "completions",
                schema.completions,
                schema.completions.c.completed_at < day.isoformat(),
            ),
            ("ratings", ratings, tuple_(ratings.c.source, ratings.c.record_id).in_(old_visits)),
            ("observations", obs, obs.c.visit_date < day),
            (
                "development_actions",
                actions,
                and_(
                    actions.c.agreed_on < day,
                    actions.c.due_on.is_(None) | (actions.c.due_on < day),
                    actions.c.completed_on.is_(None) | (actions.c.completed_on < day),
                ),
            ),
            ("interactions", schema.interactions, schema.interactions.c.date < day),
            ("people_history", people, people.c.valid_to.is_not(None) & (people.c.valid_to < day)),
            (
                "people_terminated",
                people,  # the rows not already counted as history (so a dry run adds up)
                people.c.hr_id.in_(gone)
                & (people.c.valid_to.is_(None) | (people.c.valid_to >= day)),
            ),
            ("identities", schema.identities, schema.identities.c.hr_id.in_(gone)),
        ]
    if cutoffs.statement_archive is not None:
        box = schema.outbox
        old = box.c.created_at < _stamp(cutoffs.statement_archive)
        if settings.delivery.target == "lrs":
            old = old & (box.c.state != outbox.PENDING)
        out.append(("statements", box, old))
    if cutoffs.quarantine is not None:
        q = schema.quarantine
        out.append(("quarantine", q, q.c.updated_at < _stamp(cutoffs.quarantine)))
    if cutoffs.run_logs is not None:
        runs = schema.runs
        other = runs.alias("other")
        latest = (
            select(func.max(other.c.started_at))
            .where(other.c.pipeline == runs.c.pipeline)
            .scalar_subquery()
        )
        out.append(
            (
                "runs",
                runs,
                (runs.c.finished_at < _stamp(cutoffs.run_logs))
                & (runs.c.status != "running")
                & (runs.c.started_at < latest),  # the last run of each job stays
            )
        )
    return out


def purge(
    engine: Engine, settings: Settings, *, now: datetime | None = None, dry_run: bool = False
) -> dict[str, int]:
    """Delete (or, with dry_run, count) what retention says is too old; counts per table."""
    cutoffs = Cutoffs.from_settings(settings, now or datetime.now(UTC))
    counts: dict[str, int] = {}
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if sqlite and not dry_run:
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        for name, table, where in _deletions(conn, settings, cutoffs):
            if dry_run:
                n = conn.execute(select(func.count()).select_from(table).where(where)).scalar()
            else:
                n = conn.execute(delete(table).where(where)).rowcount
            counts[name] = counts.get(name, 0) + int(n or 0)
        if not dry_run and any(counts.values()):
            records.forget_adoption_computation(conn)  # old inputs gone: recompute everyone
        if sqlite and not dry_run:
            conn.exec_driver_sql("PRAGMA secure_delete = OFF")
    if sqlite and not dry_run and any(counts.values()):
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            )
    return counts


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
        try:
            with engine.begin() as conn:
                bookkeeping.interrupt_stale_runs(conn)
                run_id = bookkeeping.claim_run(conn, "retention", scheduled_for, holder=holder)
        except IntegrityError:
            run_id = None
        if run_id is None:
            log.info("already done; skipped", pipeline="retention", scheduled_for=scheduled_for)
            return {"status": "skipped"}
        started = datetime.now(UTC)
        try:
            deleted = purge(engine, settings, now=now)
        except BaseException as exc:
            with engine.begin() as conn:
                bookkeeping.finish_run(conn, run_id, "failed", {}, error=exc.__class__.__name__)
            raise
        seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
        counts = {"purge": {**deleted, "seconds": seconds}}
        with engine.begin() as conn:
            bookkeeping.finish_run(conn, run_id, "succeeded", counts)
    log.info("purged", run_id=run_id, **deleted)
    return {"status": "succeeded", "run_id": run_id, **counts}
