"""Pull: connectors -> store, with identity resolution and quarantine.

Items are buffered and written in batches; a `Checkpoint` flushes the buffer and stores the
stream's cursor with it. Several batches share a transaction (`store.commits`: up to
COMMIT_RECORDS records or COMMIT_SECONDS seconds), because large tables make every commit
rewrite many index pages; a cursor is only ever committed with the records before it. Every
write is an idempotent upsert, so a crash between commits only means the next run re-reads
from the last committed cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, get_args

import structlog

from adoptloop.connectors.registry import AnyConnector
from adoptloop.domain import (
    ERASED,
    Account,
    Checkpoint,
    Deleted,
    PersonRef,
    Rating,
    Record,
    Rejected,
    Skipped,
    Snapshot,
    Stopped,
    people_named,
)
from adoptloop.mappings.capability_map import CapabilityMap, OutOfScaleError
from adoptloop.mappings.roles import RoleMap
from adoptloop.pipeline.deletes import WholeRead, apply_deletes, apply_snapshot
from adoptloop.pipeline.heap import heap_frozen
from adoptloop.pipeline.identity import IdentityResolver
from adoptloop.pipeline.pull_writer import (
    RecordWriter,
    Suppressed,
    UnknownRole,
    Unresolved,
    record_key,
)
from adoptloop.pipeline.read_ahead import read_ahead
from adoptloop.pipeline.suppression import Suppression, without_erased
from adoptloop.store import cursors, parked, quarantine, records, snapshots, source_reads
from adoptloop.store.commits import Commits
from adoptloop.store.quarantine import QuarantineEntry

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = structlog.get_logger(__name__)

BATCH_SIZE = 2000  # records per write
COMMIT_RECORDS = 20_000  # records per transaction, at most
COMMIT_SECONDS = 5.0  # a write transaction is not held longer (other writers wait on it)


@dataclass
class StreamCounts:
    read: int = 0  # data lines (records, deletes, refused rows) the connector gave
    rejected: int = 0  # of those, refused and quarantined (a row defect, an unknown account)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    suppressed: int = 0  # records about erased people (the suppression list), dropped
    skipped: int = 0  # read and deliberately not used, as configured (e.g. an ignored status)
    parked: int = 0  # records waiting for their person to be matched
    stopped: str | None = None  # why the stream stopped early (the next run resumes it)

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "rejected": self.rejected,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "deleted": self.deleted,
            "suppressed": self.suppressed,
            "skipped": self.skipped,
            "parked": self.parked,
        }


@dataclass
class _Waiting:
    """The keys of one stream's records that wait: parked for their person, or open in
    quarantine. Read once when the stream starts and kept up to date by its batches (only this
    run writes them), so that a batch unparks and resolves just the keys that wait, and runs
    no statement when none does (a backfill's usual batch)."""

    parked: set[str]
    quarantined: set[str]

    @classmethod
    def load(cls, conn: Connection, source: str, stream: str) -> _Waiting:
        return cls(
            parked.parked_keys(conn, source, stream),
            quarantine.open_keys(conn, source, stream),
        )

    def unparked(self, keys: Iterable[str]) -> list[str]:
        """Of `keys`, the parked ones, which the caller unparks."""
        found = [k for k in keys if k in self.parked] if self.parked else []
        self.parked.difference_update(found)
        return found

    def resolved(self, keys: Iterable[str]) -> list[str]:
        """Of `keys`, the ones open in quarantine, which the caller resolves."""
        found = [k for k in keys if k in self.quarantined] if self.quarantined else []
        self.quarantined.difference_update(found)
        return found


@dataclass
class _Buffer:
    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    deleted: list[Deleted] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records) + len(self.rejected) + len(self.deleted)


Progress = Callable[[str, int], None]


class PullStage:
    def __init__(
        self,
        engine: Engine,
        run_id: str,
        *,
        progress: Progress | None = None,
        suppression: Suppression | None = None,
        roles: RoleMap | None = None,
        allow_shrink: bool = False,
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.progress = progress
        self.suppression = suppression or Suppression(b"")
        self.roles = roles or RoleMap()
        self.stopped: dict[str, str] = {}  # source -> why it stopped early in this run
        self.allow_shrink = allow_shrink
        self.held_back: dict[str, list[str]] = {}  # source -> snapshots not applied, and why

    def pull(self, connector: AnyConnector) -> dict[str, dict[str, int]]:
        # the records in flight (read ahead, waiting for the writer) outlive young collections:
        # without this, full collections walked the heap about once a second (pipeline/heap.py)
        with heap_frozen():
            return self._pull(connector)

    def _pull(self, connector: AnyConnector) -> dict[str, dict[str, int]]:
        resolver = IdentityResolver(connector.identity_rules, suppression=self.suppression)
        result: dict[str, dict[str, int]] = {}
        streams: list[StreamCounts] = []
        reread = connector.family == "hris" and self._roles_changed(connector.name)
        for stream in connector.streams():
            structlog.contextvars.bind_contextvars(connector=connector.name, stream=stream)
            cpu = time.process_time()
            try:
                counts = self._pull_stream(connector, stream, resolver, reread=reread)
            finally:
                structlog.contextvars.unbind_contextvars("connector", "stream")
            streams.append(counts)
            result[stream] = counts.as_dict()
            # the CPU this process spent on the stream, all its threads (bench/run.py weighs it
            # against the wall time and the source's own CPU); logged, not a count
            cpu_seconds = round(time.process_time() - cpu, 3)
            log.info(
                "pulled",
                connector=connector.name,
                stream=stream,
                cpu_seconds=cpu_seconds,
                **counts.as_dict(),
            )
        stopped = next((c.stopped for c in streams if c.stopped), None)
        if stopped is not None:
            self.stopped[connector.name] = stopped
        with self.engine.begin() as conn:
            if connector.family == "hris":
                self._check_managers(conn, connector.name)
                if reread and stopped is None:
                    records.set_roles_digest(conn, connector.name, self.roles.digest)
            source_reads.record_read(
                conn,
                connector.name,
                self.run_id,
                lines=sum(c.read for c in streams),
                quarantined=sum(c.rejected for c in streams),
                held_back=sum(c.parked for c in streams),
                stopped_reason=stopped,
                held_reason="; ".join(self.held_back.get(connector.name, [])) or None,
            )
        taken = self.retry_parked(connector)
        if taken:
            result["(parked)"] = {"taken_up": taken}
        usage = connector.api_usage()
        if usage:  # kept in the run's counts (runs.counts): `status` shows the latest
            result["(api)"] = dict(usage)
        return result

    def rereads(self, connector: AnyConnector) -> bool:
        """Whether this run reads the connector whole, whatever its cursors say (an HR source
        last read under another roles map): its pre-flight must then check every file, even
        those its cursors call unchanged. Reads only."""
        if connector.family != "hris":
            return False
        with self.engine.connect() as conn:
            return records.roles_digest(conn, connector.name) != self.roles.digest

    def _roles_changed(self, source: str) -> bool:
        """True when this HR source was last read under another roles map (or before the store
        kept canonical roles): it is then re-read whole, whatever its cursors say, so that every
        row gets the current map (and a row quarantined for its role comes back once mapped);
        the rows it no longer sends (history) are mapped in place."""
        with self.engine.begin() as conn:
            if records.roles_digest(conn, source) == self.roles.digest:
                return False
            remapped = records.remap_roles(conn, self.roles.role)
        log.info(
            "roles map changed; re-reading the HR source whole", source=source, remapped=remapped
        )
        return True

    def retry_parked(self, connector: AnyConnector) -> int:
        """Records that waited for their person: stored now if the person matches. A user
        account that matches now (its HR person arrived, or was fixed) is remembered, and the
        records naming that user are tried again in another pass."""
        taken = 0
        while True:
            done, accounts = self._retry_pass(connector)
            taken += done
            if not accounts:
                return taken

    def _retry_pass(self, connector: AnyConnector) -> tuple[int, int]:
        """One pass over the parked records: (taken up, of which user accounts)."""
        source = connector.name
        resolver = IdentityResolver(connector.identity_rules, suppression=self.suppression)
        taken = accounts = 0
        after = 0
        while True:
            with self.engine.begin() as conn:
                batch = parked.waiting(conn, source, after_id=after)
                if not batch:
                    return taken, accounts
                after = batch[-1].id
                writer = RecordWriter(conn, source, resolver)
                done: list[parked.Parked] = []
                for item in batch:
                    try:
                        writer.add(item.record)
                    except Suppressed:
                        pass
                    except Unresolved:
                        continue
                    done.append(item)
                writer.write()
                for item in done:
                    parked.unpark(conn, source, item.stream, [item.record_key])
                    quarantine.resolve_quarantined(conn, source, item.stream, [item.record_key])
                people = {(item.system, item.external_id) for item in done}
                for system, external_id in people:
                    if parked.waiting_for(conn, source, PersonRef(system, external_id)) == 0:
                        quarantine.resolve_quarantined(conn, source, "users", [external_id])
                taken += len(done)
                accounts += sum(isinstance(item.record, Account) for item in done)

    def _pull_stream(
        self,
        connector: AnyConnector,
        stream: str,
        resolver: IdentityResolver,
        *,
        reread: bool = False,
    ) -> StreamCounts:
        counts = StreamCounts()
        kinds = connector.snapshot_kinds(stream)
        unreadable = 0  # rejected lines of a snapshot read whose record id is unknown
        whole: WholeRead | None = None
        with self.engine.connect() as conn:
            cursor = None if reread else cursors.get_cursor(conn, connector.name, stream)
            waits = _Waiting.load(conn, connector.name, stream)
            # the keys a snapshot read names go to the store as they come, not into a set;
            # a read into a store holding nothing it could delete (a first backfill) has
            # nothing to compare, and writes no key down
            compared = bool(kinds) and (
                bool(waits.parked) or snapshots.any_live(conn, connector.name, kinds)
            )
            named = snapshots.Named(conn) if compared else None
            fresh: dict[str, bool] = {}  # the tables the read found empty (RecordWriter)
            conn.commit()
            commits = Commits(conn, rows=COMMIT_RECORDS, seconds=COMMIT_SECONDS)
            buffer = _Buffer()

            def write(
                batch: _Buffer, at: str | None, snapshot: WholeRead | None = None
            ) -> Callable[[], None]:
                return partial(
                    self._flush,
                    conn,
                    connector,
                    stream,
                    resolver,
                    batch,
                    counts,
                    waits,
                    cursor=at,
                    snapshot=snapshot,
                    fresh=fresh,
                )

            # the source is read in a thread while the batches before are written
            read = read_ahead(
                connector.read(stream, cursor), flush=lambda i: isinstance(i, Checkpoint)
            )
            try:
                for item in read:
                    kind = type(item)  # a subclass of an item class takes the checks below
                    if kind in _RECORDS:  # the usual item, taken with the fewest checks
                        if named is not None:
                            named.add(record_key(item))  # type: ignore[arg-type]
                        counts.read += 1
                        buffer.records.append(item)  # type: ignore[arg-type]
                    elif isinstance(item, Checkpoint):
                        commits.write(write(buffer, item.cursor, whole), len(buffer))
                        buffer, whole = _Buffer(), None
                        continue
                    elif isinstance(item, Stopped):
                        counts.stopped = item.reason
                        continue
                    elif isinstance(item, Snapshot):
                        if kinds:
                            number = named.snapshot(item.keys) if named is not None else 0
                            whole = WholeRead(
                                kinds, number, unreadable, item.key_prefix, compared=compared
                            )
                        continue
                    else:
                        if named is not None:
                            named.add(_item_key(item))
                        if kinds:
                            unreadable += isinstance(item, Rejected) and item.unidentified
                        counts.read += 1
                        if isinstance(item, Skipped):  # used: read, and not wanted
                            counts.skipped += 1
                            continue
                        if isinstance(item, Rejected):
                            buffer.rejected.append(item)
                        elif isinstance(item, Deleted):
                            buffer.deleted.append(item)
                        else:
                            buffer.records.append(item)
                    if len(buffer) >= BATCH_SIZE:
                        commits.write(write(buffer, None), len(buffer))
                        buffer = _Buffer()
                    if self.progress and counts.read % BATCH_SIZE == 0:
                        self.progress(f"{connector.name}.{stream}", counts.read)
                if len(buffer):
                    # a connector that ended without a final checkpoint: keep the rows, not
                    # the cursor
                    commits.write(write(buffer, None), len(buffer))
                if named is not None:
                    named.clear()
            finally:
                read.close()  # stops the reading thread when the loop is left early
                commits.close()  # what was flushed stays, even when the source failed
        return counts

    def _flush(
        self,
        conn: Connection,
        connector: AnyConnector,
        stream: str,
        resolver: IdentityResolver,
        buffer: _Buffer,
        counts: StreamCounts,
        waits: _Waiting,
        *,
        cursor: str | None,
        snapshot: WholeRead | None = None,
        fresh: dict[str, bool] | None = None,
    ) -> None:
        source = connector.name
        rejected = []
        for r in buffer.rejected:
            if self.suppression.key(connector.system, r.record_key):
                counts.suppressed += 1  # an erased person's row: not even its key is kept
            else:
                rejected.append(QuarantineEntry(source, stream, r.record_key, r.location, r.reason))
        counts.rejected += len(rejected)
        writer = RecordWriter(conn, source, resolver, self.roles, fresh=fresh)
        resolver.prefetch(conn, (ref for record in buffer.records for ref in people_named(record)))
        waiting: dict[tuple[str, str], tuple[PersonRef, str]] = {}
        for record in buffer.records:
            try:
                writer.add(record)
            except Suppressed:
                counts.suppressed += 1
            except UnknownRole as exc:
                key = record_key(record)
                where = record.location or f"{stream} {key}"
                rejected.append(QuarantineEntry(source, stream, key, where, str(exc)))
                counts.rejected += 1
            except Unresolved as exc:
                key = record_key(record)
                where = record.location or f"{stream} {key}"
                # kept until the person matches (a user account too: fixing the HR side
                # takes it up without the source sending it again); quarantined once
                kept = without_erased(record, lambda r: resolver.resolve(conn, r) == ERASED)
                parked.park(conn, source, stream, key, exc.ref, kept or record, self.run_id)
                waits.parked.add(key)
                waiting.setdefault((exc.ref.system, exc.ref.external_id), (exc.ref, where))
                counts.parked += 1
        written = writer.write()
        parked.unpark(conn, source, stream, waits.unparked(writer.accepted_keys))
        rejected += [_waiting_entry(conn, source, ref, where) for ref, where in waiting.values()]
        counts.deleted += apply_deletes(conn, source, buffer.deleted)
        # a deleted record that waited for its person is dropped: it must not come back live
        # when the person matches
        parked.unpark(conn, source, stream, waits.unparked(d.record_id for d in buffer.deleted))
        counts.inserted += written.inserted
        counts.updated += written.updated
        counts.unchanged += written.unchanged
        counts.quarantined += quarantine.quarantine(conn, self.run_id, rejected)
        waits.quarantined.update(e.record_key for e in rejected if e.stream == stream)
        quarantine.resolve_quarantined(conn, source, stream, waits.resolved(writer.accepted_keys))
        if snapshot is not None:
            applied = apply_snapshot(conn, source, stream, snapshot, allow_shrink=self.allow_shrink)
            counts.deleted += applied.deleted
            if applied.held_back is not None:
                self.held_back.setdefault(source, []).append(applied.held_back)
                cursor = None  # the next run reads the same export again
        if cursor is not None:
            cursors.set_cursor(conn, source, stream, cursor)

    def _check_managers(self, conn: Connection, source: str) -> None:
        """People whose manager is nobody we know are kept, and listed in quarantine; an entry
        whose manager is known now (e.g. their row was mapped after a roles map change) is
        resolved."""
        entries = [
            QuarantineEntry(
                source,
                "people",
                f"{hr_id}@{valid_from.isoformat()}",
                f"people {hr_id}",
                f"{_UNKNOWN_MANAGER} {manager} is not a known person; "
                "the person is kept, their team is unknown",
            )
            for hr_id, manager, valid_from in records.unknown_managers(conn)
        ]
        stale = quarantine.open_keys(conn, source, "people", _UNKNOWN_MANAGER) - {
            e.record_key for e in entries
        }
        quarantine.resolve_quarantined(conn, source, "people", stale)
        quarantine.quarantine(conn, self.run_id, entries)


# the domain records (`Record`), which a read yields far more often than any other item
_RECORDS = frozenset(get_args(Record))

_UNKNOWN_MANAGER = "manager_hr_id"  # how the reason of an unknown manager's entry starts


def _waiting_entry(conn: Connection, source: str, ref: PersonRef, where: str) -> QuarantineEntry:
    """One entry per unknown person; where it was first seen (their user record, if read) stays."""
    n = parked.waiting_for(conn, source, ref)
    first_seen = quarantine.quarantined_at(conn, source, "users", ref.external_id)
    return QuarantineEntry(
        source,
        "users",
        ref.external_id,
        first_seen or where,
        f"unknown person: {ref.system} user {ref.external_id} matches no HR record; "
        f"{n} record(s) naming them wait in the store and are taken up once they match",
    )


def _item_key(item: Record | Rejected | Deleted | Skipped) -> str:
    if isinstance(item, Rejected | Skipped):
        return item.record_key
    if isinstance(item, Deleted):
        return item.record_id
    return record_key(item)


def rescale_stored_ratings(engine: Engine, capabilities: CapabilityMap) -> None:
    """Once, on a store upgraded from v2: the ratings stored (and parked) before the store kept
    their scale get it from the capability map, as pull gives every new rating."""

    def rate(item: str, raw: float) -> Rating | None:
        try:
            return capabilities.rate(item, raw)
        except (KeyError, OutOfScaleError):
            return None

    with engine.begin() as conn:
        filled = records.fill_rating_scales(conn, capabilities.scales())
        if filled is not None:
            rewritten = parked.rescale_legacy_ratings(conn, rate)
            log.info("ratings of a v2 store rescaled", ratings=filled, parked=rewritten)
