"""Reset a source: forget how far it was read, so that the next run reads it again in full.

What is forgotten is the source's cursors, every stream's: for a file source the cursor is the
file's content hash (so the next run parses the file even though it did not change), for an API
source its position (a modstamp, or the state it keeps). The records already stored stay. The
next run upserts what it reads by digest, so an unchanged row is not written again, and the
translate stage issues statements only for records whose content changed (voiding the ones
they replace): a reset re-reads everything and re-issues only what changed. A source that
lists its records whole when read from the start (a snapshot file; a Salesforce object read in
full, `connectors/crm/salesforce/sync.py`) also deletes, and voids the statements of, the
stored records the full read no longer names — once the full read completes, however many
runs (API budget stops) that takes.

Under the store's run lock, like a run: a reset never interleaves with a sync.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from adoptloop.store import cursors, locks

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)


def reset_source(engine: Engine, source: str, *, lease_seconds: float) -> int:
    """Forget `source`'s cursors; how many were forgotten. RunInProgress (exit 75) when a run
    (or another reset or erasure) holds the run lock: nothing is changed then."""
    holder = locks.node_id("reset")
    with (
        locks.hold(engine, locks.RUN, holder=holder, lease_seconds=lease_seconds),
        engine.begin() as conn,
    ):
        forgotten = cursors.forget_source(conn, source)
    log.info("source reset; the next run reads it again in full", source=source, cursors=forgotten)
    return forgotten
