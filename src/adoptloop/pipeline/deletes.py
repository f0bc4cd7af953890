"""Deletions at pull: tombstones a source sent, and what a snapshot export no longer lists.

`apply_deletes` applies `Deleted` items: a person is terminated from the day given (or today),
any other record is tombstoned so that translate voids its statements.

`apply_snapshot` runs when a snapshot read reached its end (a `Snapshot` item, then the
Checkpoint): every stored, live record of the stream's kinds that the read did not name is
deleted, and records of the stream that waited for their person are dropped. What the read
named is in the store's temporary table (`store.snapshots.Named`): the comparison is a query,
and only the records to delete come back, a chunk at a time. A read that no
longer names more than SHRINK_LIMIT of the records stored from it, or that has lines not even
a record id could be read from, is held back instead (no deletions, and its checkpoint is not
committed, so the next run reads it again) unless the run allows the shrink
(`adoptloop run --allow-shrink`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from adoptloop.domain import Deleted, DeletedKind
from adoptloop.store import parked, records, snapshots

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = structlog.get_logger(__name__)

# A snapshot that no longer lists more than this share of the records stored from it is held
# back: a truncated or filtered export is likelier than a fifth of the field leaving overnight.
SHRINK_LIMIT = 0.2


@dataclass(frozen=True)
class WholeRead:
    """A snapshot read to its end: the kinds it lists completely, and its number in the
    stream's `Named` keys, which hold the keys it named (rejected rows included: a row that
    could not be read is not a row that was removed)."""

    kinds: tuple[DeletedKind, ...]
    snapshot: int  # Named.snapshot's answer
    unreadable: int = 0  # lines not even an id could be read from: which records, unknown
    key_prefix: str = ""  # only the stored records whose key starts with it are compared
    # False: the store held no live or parked record the read could delete when it began (a
    # first backfill), so its keys were not written down and there is nothing to compare
    compared: bool = True


def apply_deletes(
    conn: Connection, source: str, deleted: Sequence[Deleted], *, by_snapshot: bool = False
) -> int:
    total = 0
    today = datetime.now(UTC).date()
    for person in (d for d in deleted if d.kind == "person"):
        total += records.terminate_people(
            conn, [person.record_id], person.on or today, by_snapshot=by_snapshot
        )
    for kind, table in snapshots.TABLES.items():
        ids = [d.record_id for d in deleted if d.kind == kind]
        total += records.mark_deleted(conn, table, source, ids)
    return total


@dataclass(frozen=True)
class SnapshotResult:
    deleted: int = 0
    held_back: str | None = None  # why the deletions were not applied


def apply_snapshot(
    conn: Connection, source: str, stream: str, read: WholeRead, *, allow_shrink: bool
) -> SnapshotResult:
    if read.unreadable and not allow_shrink:
        log.warning(
            "snapshot with unreadable lines; deletions held back",
            source=source,
            stream=stream,
            lines=read.unreadable,
        )
        return SnapshotResult(
            held_back=f"{stream}: {read.unreadable:,} line(s) of the export could not be read "
            "(see `adoptloop quarantine list`), so which records it no longer lists is unknown "
            "and none was deleted; fix the export, or run `adoptloop run --allow-shrink` once "
            "to delete what the readable lines do not name"
        )
    if not read.compared:
        return SnapshotResult()
    prefix, number = read.key_prefix, read.snapshot
    live = sum(snapshots.live_count(conn, source, kind, prefix) for kind in read.kinds)
    gone = sum(snapshots.unnamed_count(conn, source, kind, prefix, number) for kind in read.kinds)
    if live and gone > SHRINK_LIMIT * live and not allow_shrink:
        log.warning(
            "snapshot shrank; deletions held back",
            source=source,
            stream=stream,
            missing=gone,
            stored=live,
        )
        return SnapshotResult(
            held_back=f"{stream}: the export no longer lists {gone:,} of the {live:,} "
            f"records stored from it (over {SHRINK_LIMIT:.0%}), so none was deleted; if the "
            "export is right, run `adoptloop run --allow-shrink` once"
        )
    deleted = 0
    for kind in read.kinds:
        for keys in snapshots.unnamed(conn, source, kind, prefix, number):
            deleted += apply_deletes(
                conn, source, [Deleted(kind, key) for key in keys], by_snapshot=True
            )
    dropped = snapshots.unnamed_parked(conn, source, stream, prefix, number)
    parked.unpark(conn, source, stream, dropped)
    return SnapshotResult(deleted=deleted + len(dropped))
