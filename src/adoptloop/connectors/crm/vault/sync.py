"""The incremental read of one Vault stream: windows over modified_date__v, deletions, ids.

Per feed (object) of the stream, its cursor keeps `watermark` (every change modified before
it is read), the `window` in progress [lower, upper) with its upper bound frozen from the
Vault's clock when it opened, `after` (the position of the last record read in it),
`deleted_through` (the deletions log is read up to here) and `compare` (a full read whose
ids are still to be compared with the store).

1. A window [watermark - look-back, upper) is read page by page (query.window); each page ends
   with a Checkpoint, so a stop (a limit, a crash) resumes at the last record read.
2. The deletions log is read for the interval since the last complete deletions read (minus
   the look-back), up to this run's bound, whatever runs that took; Vault keeps it 30 days.
3. A full read (the first one, or after `adoptloop reset`) of the stream's first feed ends with
   a `Snapshot`: what the store holds of the stream's kind and the read did not name vanished
   without a deletion record and is deleted. A full read that began in an earlier run lists
   the object's ids when it completes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog

from adoptloop.connectors.crm.vault.client import VaultClient
from adoptloop.connectors.crm.vault.config import SyncSettings
from adoptloop.connectors.crm.vault.query import (
    Feed,
    Position,
    Row,
    deleted_ids,
    list_ids,
    lookup,
    parse_ts,
    row_defect,
    vql_ts,
    window,
)
from adoptloop.connectors.rest import MalformedPage
from adoptloop.domain import Checkpoint, DeletedKind, Item, Rejected, Snapshot

log = structlog.get_logger(__name__)

VERSION = 1
DELETIONS_HORIZON = timedelta(days=30) - timedelta(hours=1)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else vql_ts(value)


def _load(value: Any) -> datetime | None:
    return None if value is None else parse_ts(str(value))


@dataclass(frozen=True, slots=True)
class FeedState:
    watermark: datetime | None = None
    lower: datetime | None = None  # of the window in progress
    upper: datetime | None = None  # None: no window in progress
    after: Position | None = None
    deleted_through: datetime | None = None
    compare: bool = False

    def start_of_read(self) -> Position | None:
        if self.after is not None:
            return self.after
        return None if self.lower is None else Position(self.lower, None)

    def as_json(self) -> dict[str, Any]:
        return {
            "watermark": _ts(self.watermark),
            "lower": _ts(self.lower),
            "upper": _ts(self.upper),
            "after": None
            if self.after is None
            else [_ts(self.after.modified), self.after.record_id],
            "deleted_through": _ts(self.deleted_through),
            "compare": self.compare,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeedState:
        after = data.get("after")
        return cls(
            watermark=_load(data.get("watermark")),
            lower=_load(data.get("lower")),
            upper=_load(data.get("upper")),
            after=Position(parse_ts(after[0]), after[1]) if after else None,
            deleted_through=_load(data.get("deleted_through")),
            compare=bool(data.get("compare", False)),
        )


@dataclass
class StreamState:
    feeds: dict[str, FeedState] = field(default_factory=dict)

    def feed(self, name: str) -> FeedState:
        return self.feeds.get(name, FeedState())

    def encode(self) -> str:
        payload = {"v": VERSION, "feeds": {k: v.as_json() for k, v in sorted(self.feeds.items())}}
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def decode(cls, text: str | None) -> StreamState:
        """A stored cursor; anything unreadable starts from scratch (a full, idempotent read)."""
        if not text:
            return cls()
        try:
            data = orjson.loads(text)
            if data.get("v") != VERSION:
                return cls()
            return cls({k: FeedState.from_json(v) for k, v in data["feeds"].items()})
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            log.warning("unreadable cursor; reading the stream from the beginning")
            return cls()


@dataclass(frozen=True)
class Lookups:
    """Related rows a mapper fetches for a page (children of calls, answers of a report)."""

    client: VaultClient
    chunk: int

    def rows(
        self,
        object_name: str,
        fields: Sequence[str],
        key_field: str,
        ids: Sequence[str],
        *,
        where: str | None = None,
    ) -> list[Row]:
        return lookup(
            self.client, object_name, fields, key_field, ids, chunk=self.chunk, where=where
        )


class StreamMapper:
    """Turns the changed rows of a stream's feeds into domain items."""

    stream: str
    feeds: tuple[Feed, ...]
    kind: DeletedKind | None = None  # what a full read of the first feed is compared with

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        """Configured fields per object, as (config key, field name), for the metadata check."""
        raise NotImplementedError

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:
        raise NotImplementedError

    def deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:  # noqa: ARG002 - a hook
        return iter(())


class StreamSync:
    def __init__(
        self,
        client: VaultClient,
        mapper: StreamMapper,
        settings: SyncSettings,
        *,
        upper: datetime,
    ) -> None:
        self.client = client
        self.mapper = mapper
        self.settings = settings
        self.upper = upper
        self.lookups = Lookups(client, settings.lookup_chunk)
        self.lookback = timedelta(minutes=settings.lookback_minutes)

    def run(self, cursor: str | None) -> Iterator[Item]:
        """The stream's changes, deletions and checkpoints. A malformed answer (no data array,
        not JSON) is quarantined and ends the read with no further checkpoint: the next run
        reads again from the last position stored."""
        state = StreamState.decode(cursor)
        try:
            for index, feed in enumerate(self.mapper.feeds):
                compared = index == 0 and self.mapper.kind is not None
                yield from self._feed(feed, state, compared=compared)
        except MalformedPage as exc:
            log.warning("malformed Vault answer quarantined", where=exc.where, reason=str(exc))
            yield Rejected(self.mapper.stream, "page", exc.where, str(exc))
            return
        yield self._checkpoint(state)

    def _checkpoint(self, state: StreamState) -> Checkpoint:
        return Checkpoint(self.mapper.stream, state.encode())

    def _feed(self, feed: Feed, state: StreamState, *, compared: bool) -> Iterator[Item]:
        current = state.feed(feed.name)
        first_read = current.watermark is None and current.upper is None
        begun_earlier = current.compare
        if current.upper is None and (current.watermark is None or current.watermark < self.upper):
            lower = None if current.watermark is None else current.watermark - self.lookback
            opened = replace(current, lower=lower, upper=self.upper, after=None)
            if current.watermark is None:
                opened = replace(opened, compare=compared)
                if current.deleted_through is None:
                    # the first read sees what exists up to this bound; deletions count from here
                    opened = replace(opened, deleted_through=self.upper)
            state.feeds[feed.name] = opened
        if state.feed(feed.name).upper is not None:
            yield from self._window(feed, state)
        if state.feed(feed.name).compare:
            yield from self._compare(feed, state, listed=begun_earlier)
        if feed.deletable and not first_read:
            yield from self._deletions(feed, state)

    def _window(self, feed: Feed, state: StreamState) -> Iterator[Item]:
        current = state.feed(feed.name)
        upper = current.upper
        assert upper is not None  # noqa: S101 - opened by the caller
        pages = window(self.client, feed, current.start_of_read(), upper, self.settings.page_size)
        for rows, position in pages:
            readable: list[Row] = []
            for row in rows:
                defect = row_defect(row)
                if defect is None:
                    readable.append(row)
                    continue
                record_id = str(row.get("id") or "(no id)") if isinstance(row, dict) else "(no id)"
                where = f"{feed.object} {record_id}"
                yield Rejected(self.mapper.stream, record_id, where, defect)
            if readable:
                yield from self.mapper.changed(feed, readable, self.lookups)
            state.feeds[feed.name] = replace(state.feed(feed.name), after=position)
            yield self._checkpoint(state)
        state.feeds[feed.name] = replace(
            state.feed(feed.name), watermark=upper, lower=None, upper=None, after=None
        )
        yield self._checkpoint(state)

    def _compare(self, feed: Feed, state: StreamState, *, listed: bool) -> Iterator[Item]:
        """A full read of `feed` completed: hand the pipeline the ids to compare with the store.
        Read whole in this run, the records it yielded are the ids; begun by an earlier run, the
        Vault's ids are listed now."""
        keys = frozenset(list_ids(self.client, feed)) if listed else None
        yield Snapshot(self.mapper.stream, keys=keys)
        state.feeds[feed.name] = replace(state.feed(feed.name), compare=False)
        yield self._checkpoint(state)

    def _deletions(self, feed: Feed, state: StreamState) -> Iterator[Item]:
        current = state.feed(feed.name)
        through = current.deleted_through
        if through is None:
            state.feeds[feed.name] = replace(current, deleted_through=self.upper)
            return
        start = through - self.lookback
        horizon = self.upper - DELETIONS_HORIZON
        if start < horizon:
            log.warning(
                "Vault keeps deletions 30 days; older ones cannot be listed, some may be missed "
                "until `adoptloop reset` compares every id",
                object=feed.object,
                since=start.isoformat(),
            )
            start = horizon
        if start >= self.upper:
            return
        ids = deleted_ids(
            self.client, feed.object, start, self.upper, self.settings.deletions_page_size
        )
        if ids:
            yield from self.mapper.deleted(feed, ids)
        state.feeds[feed.name] = replace(state.feed(feed.name), deleted_through=self.upper)
        yield self._checkpoint(state)
