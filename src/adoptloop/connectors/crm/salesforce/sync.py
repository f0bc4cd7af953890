"""The incremental read of one stream: windows by SystemModstamp, checkpoints, deletes.

Per feed (object) of the stream:

1. A window [watermark - look-back, upper) where `upper` was frozen when the run started (a
   window left unfinished by an earlier run is finished first, up to its own frozen upper).
2. The window is read over REST in (SystemModstamp, Id) order, or with a Bulk API 2.0 job when
   it holds more than `bulk_above_rows` rows. queryAll returns soft-deleted rows (IsDeleted):
   mappers turn them into tombstones. Each page ends with a Checkpoint, so a run stopped by
   the API budget resumes exactly there.
3. The deleted-records endpoint lists hard deletes since the last run; they become tombstones.
   A deleted row that cannot be traced to its parent (a report's answer) makes every parent be
   read and rebuilt again, unless its parent went in the same deletion.
4. A full read (no watermark yet: the first backfill, or after `adoptloop reset`) of the
   stream's first feed ends with a `Snapshot`: the stored records of the object that the read
   did not name vanished from the org without a delete record (purged past the delete log's
   retention) and are deleted. A full read that began in an earlier run (the API budget stopped
   it) lists the object's ids when it completes, since the earlier runs' records are not at
   hand; a read that has not completed compares nothing.

A backfill transfers each record once: a call's children are looked up with their parents
(`Feed.backfill_where`), and a feed looked up with its parent (`Feed.fetched_with`, a report's
answers) starts where its parent's backfill ends. In a Bulk read the chunks of rows are mapped
(their related rows looked up, then turned into records) by MAPPERS threads in turn
(`in_order`), so that the next chunk's lookups are on the wire while this one is mapped; the
items still come in the order of the rows, each chunk followed by its checkpoint. The next
result page is requested as soon as this one has arrived (`bulk.bulk_window`, one page
ahead), and a lookup's chunks of ids are queried at the same time in LOOKUP_THREADS threads
that the stream's mappers share, so that the org always has a request to answer.

The visit date is never a cursor: a call edited offline on an iPad reaches Salesforce days
later, and only its SystemModstamp says so.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from adoptloop.connectors.crm.records import parse_ts
from adoptloop.connectors.crm.salesforce.bulk import BulkUnavailable, bulk_window
from adoptloop.connectors.crm.salesforce.client import SalesforceClient
from adoptloop.connectors.crm.salesforce.config import SyncSettings
from adoptloop.connectors.crm.salesforce.cursor import FeedState, StreamState, Window
from adoptloop.connectors.crm.salesforce.query import (
    Feed,
    Row,
    count,
    list_ids,
    lookup,
    rest_window,
)
from adoptloop.connectors.crm.salesforce.schema import ObjectSchema
from adoptloop.domain import Checkpoint, DeletedKind, Item, Snapshot
from adoptloop.http.retry import Sleep

log = structlog.get_logger(__name__)


# A window no longer than this (a night's delta, with a stop or two) is read over REST.
NIGHTLY_SPAN = timedelta(days=3)
# The deleted-records endpoint answers for the last 15 days at most.
DELETED_HORIZON = timedelta(days=15) - timedelta(hours=1)
DELETED_MIN_SPAN = timedelta(minutes=1)
# threads mapping a Bulk read's chunks (each chunk's lookups, then its records), in turn
MAPPERS = 2
# threads a stream's lookups send their chunks of ids in (shared by the mappers), so that the
# org always has a query to answer while this process maps and writes
LOOKUP_THREADS = 4

T = TypeVar("T")
R = TypeVar("R")


def in_order(
    source: Iterator[tuple[T, R, bool]],
    work: Callable[[T], list[Item]],
    *,
    workers: int = MAPPERS,
) -> Generator[tuple[list[Item], R], None, None]:
    """(work(a), b) for each (a, b, in_hand) of `source`, in order: `work` runs in `workers`
    threads, up to `workers` chunks ahead of the caller. The source is read past an item
    before the caller asks only where that item says the next is `in_hand` (the rest of a page
    already fetched): a stop never costs a request a read in line would not have made.

    An exception of `work` is raised where its chunk's items would have come, one of `source`
    after the chunks it gave before; leaving early waits for the chunks under way and drops
    them (nothing of theirs was handed on: their checkpoints never come)."""
    pending: deque[tuple[Future[list[Item]], R, bool]] = deque()

    def first() -> tuple[list[Item], R]:
        done, after, _ = pending.popleft()
        return done.result(), after

    with ThreadPoolExecutor(workers, thread_name_prefix="map-chunk") as pool:
        try:
            while True:
                if pending and (len(pending) >= workers or not pending[-1][2]):
                    yield first()
                    continue
                try:
                    part, after, in_hand = next(source)
                except StopIteration:
                    break
                except Exception:
                    while pending:  # what the source gave before it failed comes first
                        yield first()
                    raise
                # each in the caller's context (the log's bound connector and stream)
                work_in_context = contextvars.copy_context().run
                pending.append((pool.submit(work_in_context, work, part), after, in_hand))
            while pending:
                yield first()
        finally:
            for future, _, _ in pending:
                future.cancel()
            close = getattr(source, "close", None)
            if close is not None:
                close()


@dataclass(frozen=True)
class Lookups:
    """Related rows a mapper fetches for a page (children of calls, answers of a report)."""

    client: SalesforceClient
    chunk: int
    # the threads a lookup's chunks of ids are queried in at the same time (None: one by one)
    pool: Executor | None = None

    def rows(
        self,
        sobject: str,
        fields: Sequence[str],
        key_field: str,
        ids: Iterable[str],
        *,
        include_deleted: bool,
        where: str | None = None,
    ) -> list[Row]:
        return lookup(
            self.client,
            sobject,
            fields,
            key_field,
            ids,
            include_deleted=include_deleted,
            chunk=self.chunk,
            where=where,
            pool=self.pool,
        )


class StreamMapper:
    """Turns the changed rows of a stream's feeds into domain items."""

    stream: str
    feeds: tuple[Feed, ...]
    # the kind of record whose key is the Id of the first feed's object (None: no such record,
    # e.g. users): what a full read of that object is compared with
    kind: DeletedKind | None = None

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        """Configured fields per object, as (config key, field name), for the describe check."""
        raise NotImplementedError

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:
        raise NotImplementedError

    def hard_deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:  # noqa: ARG002 - a hook
        return iter(())


class StreamSync:
    def __init__(
        self,
        client: SalesforceClient,
        mapper: StreamMapper,
        settings: SyncSettings,
        *,
        upper: datetime,
        schemas: Mapping[str, ObjectSchema],
        sleep: Sleep,
    ) -> None:
        self.client = client
        self.mapper = mapper
        self.settings = settings
        self.upper = upper
        self.schemas = schemas
        self.sleep = sleep
        self.lookups = Lookups(client, settings.lookup_chunk)
        self.lookback = timedelta(minutes=settings.lookback_minutes)
        self.deleted_at: dict[str, set[str]] = {}  # feed -> deletedDate of its hard deletes

    def run(self, cursor: str | None) -> Iterator[Item]:
        alone = self.lookups
        with ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="lookup") as pool:
            self.lookups = replace(alone, pool=pool)
            try:
                yield from self._run(cursor)
            finally:
                self.lookups = alone

    def _run(self, cursor: str | None) -> Iterator[Item]:
        state = StreamState.decode(cursor)
        if cursor and not state.feeds:
            log.warning("unreadable cursor; reading the stream from the beginning")
        # every object's, with every checkpoint: the next run's describe cache, whichever of
        # this run's streams get read before a budget stop
        state.schemas = {sobject: schema.as_json() for sobject, schema in self.schemas.items()}
        for index, feed in enumerate(self.mapper.feeds):
            yield from self._feed(feed, state, compared=index == 0 and self.mapper.kind is not None)
        yield self._checkpoint(state)

    def _checkpoint(self, state: StreamState) -> Checkpoint:
        return Checkpoint(self.mapper.stream, state.encode())

    def _feed(self, feed: Feed, state: StreamState, *, compared: bool) -> Iterator[Item]:
        begun_earlier = state.feed(feed.name).compare  # a full read an earlier run began
        while True:
            current = state.feed(feed.name)
            if current.window is None:
                if current.watermark is not None and current.watermark >= self.upper:
                    break
                lower = None if current.watermark is None else current.watermark - self.lookback
                opened = replace(current, window=Window(lower, self.upper))
                if current.watermark is None and current.deleted_through is None:
                    # the first read sees what exists up to this bound; the delete log is read
                    # from here on, by the run that finishes it however much later that is
                    opened = replace(opened, deleted_through=self.upper)
                    self._start_fetched_with(feed, state)
                if current.watermark is None:
                    opened = replace(opened, compare=compared)
                state.feeds[feed.name] = opened
            yield from self._window(feed, state)
            watermark = state.feed(feed.name).watermark
            if watermark is not None and watermark >= self.upper:
                break
        if state.feed(feed.name).compare:
            yield from self._compare(feed, state, listed=begun_earlier)
        if feed.deletable:
            yield from self._hard_deletes(feed, state)

    def _start_fetched_with(self, feed: Feed, state: StreamState) -> None:
        """A feed whose rows this feed's first read looks up (a report's answers) has nothing
        to read before the same bound: it starts there, so a backfill transfers them once."""
        for other in self.mapper.feeds:
            if other.fetched_with == feed.name and other.name not in state.feeds:
                state.feeds[other.name] = FeedState(
                    watermark=self.upper, deleted_through=self.upper
                )

    def _compare(self, feed: Feed, state: StreamState, *, listed: bool) -> Iterator[Item]:
        """The full read of `feed` completed: hand the pipeline the ids to compare with the
        store. Read whole in this run, the records it yielded are the ids; begun by an earlier
        run, the org's ids are listed now (a listing stopped by the budget is done again)."""
        schema = self.schemas.get(feed.sobject)
        prefix = schema.key_prefix if schema else None
        if prefix:
            keys = frozenset(list_ids(self.client, feed)) if listed else None
            yield Snapshot(self.mapper.stream, keys=keys, key_prefix=prefix)
        else:
            log.warning(
                "describe gave no key prefix; vanished records are not compared",
                sobject=feed.sobject,
            )
        state.feeds[feed.name] = replace(state.feed(feed.name), compare=False)
        yield self._checkpoint(state)

    def _window(self, feed: Feed, state: StreamState) -> Iterator[Item]:
        current = state.feed(feed.name)
        assert current.window is not None  # noqa: S101 - set by the caller
        if current.window.lower is None:  # a backfill: related rows come with their parents
            feed = feed.backfill()
        if current.bulk is not None or (current.after is None and self._large(feed, current)):
            try:
                yield from self._bulk(feed, state)
            except BulkUnavailable as exc:
                log.warning("bulk read unavailable; reading the window over REST", reason=str(exc))
                state.feeds[feed.name] = replace(state.feed(feed.name), bulk=None)
            else:
                return
        current = state.feed(feed.name)
        window = current.window
        assert window is not None  # noqa: S101
        min_split = timedelta(seconds=self.settings.min_split_seconds)
        for rows, position in rest_window(
            self.client, feed, current.start_of_read(), window.upper, min_split=min_split
        ):
            if rows:
                yield from self.mapper.changed(feed, rows, self.lookups)
            state.feeds[feed.name] = replace(state.feed(feed.name), after=position)
            yield self._checkpoint(state)
        state.feeds[feed.name] = state.feed(feed.name).completed()
        yield self._checkpoint(state)

    def _large(self, feed: Feed, current: FeedState) -> bool:
        """Whether to read the window with Bulk: asked with a COUNT() only where a backfill
        path is a real choice (the first read, or a gap of more than NIGHTLY_SPAN after a
        stop); a nightly delta goes over REST without spending a call on counting it."""
        threshold = self.settings.bulk_above_rows
        if threshold is None or current.window is None:
            return False
        lower = current.window.lower
        if lower is not None and current.window.upper - lower <= NIGHTLY_SPAN:
            return False
        rows = count(self.client, feed, current.start_of_read(), current.window.upper)
        large = rows is None or rows > threshold
        log.info("window size", sobject=feed.sobject, rows=rows, bulk=large)
        return large

    def _bulk(self, feed: Feed, state: StreamState) -> Iterator[Item]:
        current = state.feed(feed.name)
        assert current.window is not None  # noqa: S101
        schema = self.schemas.get(feed.sobject)
        pages = bulk_window(
            self.client,
            feed,
            current.bulk,
            current.start_of_read(),
            current.window.upper,
            types=schema.types if schema else {},
            sleep=self.sleep,
            poll_seconds=self.settings.bulk_poll_seconds,
            timeout_seconds=self.settings.bulk_timeout_minutes * 60,
        )

        def mapped(rows: list[Row]) -> list[Item]:
            return list(self.mapper.changed(feed, rows, self.lookups)) if rows else []

        with contextlib.closing(in_order(pages, mapped)) as chunks:
            for items, job in chunks:
                yield from items
                latest = state.feed(feed.name)
                state.feeds[feed.name] = (
                    latest.completed() if job is None else replace(latest, bulk=job)
                )
                yield self._checkpoint(state)

    def _hard_deletes(self, feed: Feed, state: StreamState) -> Iterator[Item]:
        current = state.feed(feed.name)
        schema = self.schemas.get(feed.sobject)
        if current.deleted_through is not None and current.deleted_through >= self.upper:
            return  # a first read kept its start at this bound: nothing to list yet
        if current.deleted_through is None or (schema and not schema.replicateable):
            # a cursor from before the first read kept its start; an object that is not
            # replicateable has no deleted-records endpoint (soft deletes come via queryAll)
            state.feeds[feed.name] = replace(current, deleted_through=self.upper)
            return
        start = current.deleted_through - self.lookback
        horizon = self.upper - DELETED_HORIZON
        if start < horizon:
            log.warning(
                "hard deletes older than 15 days cannot be listed; some may be missed",
                sobject=feed.sobject,
                since=start.isoformat(),
            )
            start = horizon
        if self.upper - start <= DELETED_MIN_SPAN:
            return
        result = self.client.deleted(feed.sobject, start.isoformat(), self.upper.isoformat())
        earliest = result.get("earliestDateAvailable")
        if earliest and parse_ts(str(earliest)) > start:
            log.warning(
                "Salesforce purged its delete log past our last run; some hard deletes may be "
                "missed until a full resync",
                sobject=feed.sobject,
            )
        deleted = [r for r in result.get("deletedRecords", []) if r.get("id")]
        if deleted:
            yield from self.mapper.hard_deleted(feed, [str(r["id"]) for r in deleted])
        self.deleted_at[feed.name] = {str(r.get("deletedDate")) for r in deleted}
        covered = result.get("latestDateCovered")
        through = min(parse_ts(str(covered)), self.upper) if covered else self.upper
        state.feeds[feed.name] = replace(state.feed(feed.name), deleted_through=through)
        yield self._checkpoint(state)
        if feed.fetched_with is not None:
            # the log names a deleted answer, not its report: unless its report went in the
            # same deletion (a cascade), every report is rebuilt from the answers that remain
            cascaded = self.deleted_at.get(feed.fetched_with, set())
            untraced = [r for r in deleted if str(r.get("deletedDate")) not in cascaded]
            if untraced:
                yield from self._reread(feed.fetched_with, state, because=len(untraced))

    def _reread(self, name: str, state: StreamState, *, because: int) -> Iterator[Item]:
        """Read a feed again from the beginning, checkpointed like its backfill."""
        feed = next(f for f in self.mapper.feeds if f.name == name)
        log.info(
            "hard-deleted rows cannot be traced to their parent; reading every parent again",
            sobject=feed.sobject,
            untraced=because,
        )
        current = state.feed(name)
        state.feeds[name] = replace(
            current, window=Window(None, current.watermark or self.upper), after=None, bulk=None
        )
        yield self._checkpoint(state)
        yield from self._feed(feed, state, compared=False)
