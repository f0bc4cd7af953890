"""Retention's deletions: each class of data older than its cutoff leaves the store.

What each class covers is in scheduler/retention.py, which turns the `retention:` settings
into the cutoffs. On SQLite the purge runs with `secure_delete` and truncates the WAL
afterwards, so deleted rows do not linger in the file; on PostgreSQL autovacuum reclaims them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

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

from adoptloop.store import outbox, records, schema
from adoptloop.store.schema import stamp


@dataclass(frozen=True)
class Cutoffs:
    """Per class of data, the moment before which it is deleted (None: kept forever)."""

    source_records: date | None
    statement_archive: datetime | None
    quarantine: datetime | None
    run_logs: datetime | None


def _deletions(
    conn: Connection, cutoffs: Cutoffs, *, keep_pending: bool
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
        old = box.c.created_at < stamp(cutoffs.statement_archive)
        if keep_pending:
            old = old & (box.c.state != outbox.PENDING)
        out.append(("statements", box, old))
    if cutoffs.quarantine is not None:
        q = schema.quarantine
        out.append(("quarantine", q, q.c.updated_at < stamp(cutoffs.quarantine)))
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
                (runs.c.finished_at < stamp(cutoffs.run_logs))
                & (runs.c.status != "running")
                & (runs.c.started_at < latest),  # the last run of each job stays
            )
        )
    return out


def purge(
    engine: Engine, cutoffs: Cutoffs, *, keep_pending: bool, dry_run: bool = False
) -> dict[str, int]:
    """Delete (or, with dry_run, count) what is older than its class's cutoff; counts per
    table. `keep_pending`: statements still waiting for the LRS are never deleted."""
    counts: dict[str, int] = {}
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if sqlite and not dry_run:
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        for name, table, where in _deletions(conn, cutoffs, keep_pending=keep_pending):
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
