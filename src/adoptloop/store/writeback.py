"""The LMS write-back audit: which transcript records were sent, when, and what the LMS said.

`publish_writebacks` is the one entry point. It is idempotent twice over:

- across re-runs, by this audit: a key already audited as written or already-present is not
  offered to the connector again;
- across a crash between sending and recording (the LMS has the record, the audit does not),
  by the connector: `write_back` checks the LMS for the record's key before writing, and
  answers "already-present".

Records go to the connector in small chunks, each chunk's answers committed before the next is
sent, so a crash loses at most one chunk's audit rows, never a record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Engine, select

from adoptloop.domain import TranscriptRecord, WriteBackResult
from adoptloop.store import schema
from adoptloop.store.schema import utcnow

log = structlog.get_logger(__name__)

DONE = ("written", "already-present")
CHUNK = 10


class WriteBackConnector(Protocol):
    @property
    def name(self) -> str: ...

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[WriteBackResult]: ...


@dataclass
class WriteBackSummary:
    results: list[WriteBackResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # keys audited as done before

    def counts(self) -> dict[str, int]:
        out = {"skipped": len(self.skipped)}
        for result in self.results:
            out[result.status] = out.get(result.status, 0) + 1
        return out


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


def publish_writebacks(
    engine: Engine,
    connector: WriteBackConnector,
    records: Sequence[TranscriptRecord],
    *,
    dry_run: bool = False,
) -> WriteBackSummary:
    """Send the records not yet audited as done, and audit every answer."""
    summary = WriteBackSummary()
    unique = list({r.key: r for r in records}.values())
    with engine.connect() as conn:
        done = done_keys(conn, connector.name, [r.key for r in unique])
    summary.skipped = sorted(done)
    pending = [r for r in unique if r.key not in done]
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        results = connector.write_back(chunk, dry_run=dry_run)
        answered = {r.key for r in results}
        results += [
            WriteBackResult(r.key, "failed", None, "the connector gave no answer for this record")
            for r in chunk
            if r.key not in answered
        ]
        with engine.begin() as conn:
            record_results(conn, connector.name, chunk, results)
        summary.results.extend(results)
    log.info("write-back", connector=connector.name, dry_run=dry_run, **summary.counts())
    return summary
