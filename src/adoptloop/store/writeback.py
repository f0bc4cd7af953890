"""The LMS write-back audit: which transcript records were sent, when, and what the LMS said.

The publish stage (pipeline/publish.py) asks `done_keys` what not to offer again and writes
every answer the connector gave with `record_results`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, select

from adoptloop.domain import TranscriptRecord, WriteBackResult
from adoptloop.store import schema
from adoptloop.store.schema import utcnow

DONE = ("written", "already-present")


def adopted_with_account(
    conn: Connection, system: str, *, batch: int
) -> Iterator[tuple[str, str, str, str]]:
    """(hr_id, capability_id, transitions JSON, external_id in `system`) of every live rep x
    capability ever adopted whose person has an account in that system, in a stable order
    (hr_id, capability, external_id), streamed `batch` rows at a time."""
    a, i = schema.adoption_states, schema.identities
    query = (
        select(a.c.hr_id, a.c.capability_id, a.c.transitions, i.c.external_id)
        .join(i, (i.c.hr_id == a.c.hr_id) & (i.c.system == system))
        .where(a.c.source == "adoption", a.c.deleted.is_(False), a.c.ever_adopted.is_(True))
        .order_by(a.c.hr_id, a.c.capability_id, i.c.external_id)
        .execution_options(yield_per=batch)
    )
    for row in conn.execute(query):
        yield row.hr_id, row.capability_id, row.transitions, row.external_id


def done_keys(conn: Connection, connector: str, keys: Sequence[str]) -> set[str]:
    t = schema.writebacks
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        found.update(
            conn.execute(
                select(t.c.key).where(
                    (t.c.connector == connector) & t.c.key.in_(chunk) & t.c.status.in_(DONE)
                )
            ).scalars()
        )
    return found


def record_results(
    conn: Connection,
    connector: str,
    records: Sequence[TranscriptRecord],
    results: Sequence[WriteBackResult],
) -> None:
    """Upsert one audit row per result; a dry run never overwrites a real answer."""
    t = schema.writebacks
    by_key = {r.key: r for r in records}
    now = utcnow()
    for result in results:
        record = by_key.get(result.key)
        if record is None:
            raise ValueError(f"{connector} answered for key {result.key!r} it was not given")
        where = (t.c.connector == connector) & (t.c.key == result.key)
        current = conn.execute(select(t.c.status).where(where)).scalar_one_or_none()
        values = {
            "status": result.status,
            "external_id": result.external_id,
            "detail": result.detail,
            "updated_at": now,
        }
        if current is None:
            conn.execute(
                t.insert().values(
                    connector=connector,
                    key=record.key,
                    hr_id=record.hr_id,
                    capability_id=record.capability_id,
                    state=record.state,
                    observed_on=record.observed_on,
                    created_at=now,
                    **values,
                )
            )
        elif not (result.status == "would-write" and current in DONE):
            conn.execute(t.update().where(where).values(**values))


def audit_rows(conn: Connection, connector: str | None = None) -> list[dict[str, Any]]:
    t = schema.writebacks
    query = select(t).order_by(t.c.connector, t.c.id)
    if connector is not None:
        query = query.where(t.c.connector == connector)
    return [dict(row) for row in conn.execute(query).mappings()]
