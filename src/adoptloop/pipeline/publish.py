"""Publish: the adoption answer back into the learner's LMS transcript.

For every rep x capability whose state reached adopted or sustained, one "Field-observed:
<capability>" record per state, dated with the visit that reached it, to each LMS source
listed in `adoption.write_back` (the connector must support write-back). Idempotent: a key
already audited as written is skipped, and the connector checks the LMS before writing, so a
crash between sending and recording never makes a second record. A rep with no account in
that LMS (no identity for its system) is skipped and counted.

`publish_writebacks` sends one connector its records; it is idempotent twice over:

- across re-runs, by the audit (store/writeback.py): a key already audited as written or
  already-present is not offered to the connector again;
- across a crash between sending and recording (the LMS has the record, the audit does not),
  by the connector: `write_back` checks the LMS for the record's key before writing, and
  answers "already-present".

Records go to the connector in small chunks, each chunk's answers committed before the next is
sent, so a crash loses at most one chunk's audit rows, never a record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog

from adoptloop.connectors.base import SupportsWriteBack
from adoptloop.connectors.registry import AnyConnector
from adoptloop.domain import TranscriptRecord, WriteBackResult
from adoptloop.errors import ConfigError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import writeback

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = structlog.get_logger(__name__)

BATCH = 500
CHUNK = 10  # records per write_back call; each chunk's answers are committed before the next
PUBLISHED_STATES = ("adopted", "sustained")


def transcript_records(
    conn: Connection, capabilities: CapabilityMap, system: str
) -> Iterator[list[TranscriptRecord]]:
    """Batches of records for one LMS, in a stable order (hr_id, capability, state)."""
    batch: list[TranscriptRecord] = []
    seen: set[tuple[str, str]] = set()
    for hr_id, capability_id, transitions, lms_user_id in writeback.adopted_with_account(
        conn, system, batch=BATCH
    ):
        capability = capabilities.capabilities.get(capability_id)
        if capability is None or (hr_id, capability_id) in seen:
            continue  # one LMS account per person: the first (stable order) is used
        seen.add((hr_id, capability_id))
        reached: dict[str, date] = {}
        for state, on in orjson.loads(transitions):
            if state in PUBLISHED_STATES and state not in reached:
                reached[state] = date.fromisoformat(on)
        for state, on in reached.items():
            batch.append(
                TranscriptRecord(
                    key=f"{hr_id}/{capability_id}/{state}",
                    hr_id=hr_id,
                    lms_user_id=lms_user_id,
                    capability_id=capability_id,
                    capability_name=capability.name,
                    state=state,  # type: ignore[arg-type]
                    observed_on=on,
                )
            )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def publish(
    engine: Engine,
    connectors: Sequence[AnyConnector],
    capabilities: CapabilityMap,
    names: Sequence[str],
    *,
    dry_run: bool = False,
) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    by_name = {c.name: c for c in connectors}
    for name in names:
        connector = by_name.get(name)
        if connector is None:
            continue  # disabled source
        if not isinstance(connector, SupportsWriteBack):
            raise ConfigError(
                f"adoption.write_back: source {name!r} ({connector.type_name}) cannot write to "
                "an LMS transcript"
            )
        totals: dict[str, int] = {}
        with engine.connect() as conn:  # read in batches while the audit is written beside it
            for batch in transcript_records(conn, capabilities, connector.system):
                summary = publish_writebacks(engine, connector, batch, dry_run=dry_run)
                for key, value in summary.counts().items():
                    totals[key] = totals.get(key, 0) + value
        counts[name] = totals
        log.info("published", connector=name, dry_run=dry_run, **totals)
    return counts


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
        done = writeback.done_keys(conn, connector.name, [r.key for r in unique])
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
            writeback.record_results(conn, connector.name, chunk, results)
        summary.results.extend(results)
    log.info("write-back", connector=connector.name, dry_run=dry_run, **summary.counts())
    return summary
