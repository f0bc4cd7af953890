"""Publish: the adoption answer back into the learner's LMS transcript.

For every rep x capability whose state reached adopted or sustained, one "Field-observed:
<capability>" record per state, dated with the visit that reached it, to each LMS source
listed in `adoption.write_back` (the connector must support write-back). Idempotent: a key
already audited as written is skipped, and the connector checks the LMS before writing, so a
crash between sending and recording never makes a second record. A rep with no account in
that LMS (no identity for its system) is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from adoptloop.connectors.base import SupportsWriteBack
from adoptloop.connectors.registry import AnyConnector
from adoptloop.domain import TranscriptRecord
from adoptloop.errors import ConfigError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import writeback

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = structlog.get_logger(__name__)

BATCH = 500
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
                summary = writeback.publish_writebacks(engine, connector, batch, dry_run=dry_run)
                for key, value in summary.counts().items():
                    totals[key] = totals.get(key, 0) + value
        counts[name] = totals
        log.info("published", connector=name, dry_run=dry_run, **totals)
    return counts
