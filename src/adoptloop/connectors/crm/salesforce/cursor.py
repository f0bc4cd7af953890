"""The cursor of a Salesforce stream: an opaque JSON string the pipeline stores per stream.

A stream reads one or more objects ("feeds"). Per feed it keeps:

- `watermark`: every change with SystemModstamp < watermark has been read (the upper bound of
  the last completed window);
- `window`: the window in progress, [lower, upper) with the upper bound frozen when the window
  started (lower None = from the beginning);
- `after`: how far into the window a REST read got: (SystemModstamp, Id) of the last record
  read, or (t, None) for "everything before t";
- `bulk`: the Bulk API 2.0 job reading the window and the locator of its next result page;
- `deleted_through`: the deleted-records endpoint has been read up to here;
- `compare`: a full read (from the beginning: a first backfill, or after `adoptloop reset`)
  whose ids are still to be compared with the store; set when it starts, cleared once the
  comparison is handed over (a `Snapshot`).

Beside the feeds, the cursor keeps what describe() found for the stream's objects (`schemas`,
see schema.py), so that a later run re-describes only what changed.

A window interrupted (API budget, crash) is resumed by the next run from `after`/`bulk` up to
its frozen upper bound, then a new window starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from adoptloop.connectors.crm.records import parse_ts

VERSION = 1


def soql_ts(value: datetime) -> str:
    """A dateTime literal for SOQL, in UTC to the second (Salesforce keeps no finer)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dump(value: datetime | None) -> str | None:
    return None if value is None else soql_ts(value)


def _load(value: Any) -> datetime | None:
    return None if value is None else parse_ts(str(value))


@dataclass(frozen=True, slots=True)
class Position:
    modstamp: datetime
    record_id: str | None  # None: nothing at `modstamp` read yet

    def key(self) -> tuple[datetime, str]:
        return (self.modstamp, self.record_id or "")


@dataclass(frozen=True, slots=True)
class Window:
    lower: datetime | None
    upper: datetime


@dataclass(frozen=True, slots=True)
class BulkJob:
    job_id: str
    locator: str | None = None  # None: no result page read yet


@dataclass(frozen=True, slots=True)
class FeedState:
    watermark: datetime | None = None
    window: Window | None = None
    after: Position | None = None
    bulk: BulkJob | None = None
    deleted_through: datetime | None = None
    compare: bool = False

    def start_of_read(self) -> Position | None:
        """Where the window's reading (re)starts."""
        if self.after is not None:
            return self.after
        if self.window is not None and self.window.lower is not None:
            return Position(self.window.lower, None)
        return None

    def completed(self) -> FeedState:
        assert self.window is not None  # noqa: S101 - only called inside a window
        return replace(self, watermark=self.window.upper, window=None, after=None, bulk=None)

    def as_json(self) -> dict[str, Any]:
        return {
            "watermark": _dump(self.watermark),
            "window": None
            if self.window is None
            else [_dump(self.window.lower), _dump(self.window.upper)],
            "after": None
            if self.after is None
            else [_dump(self.after.modstamp), self.after.record_id],
            "bulk": None if self.bulk is None else [self.bulk.job_id, self.bulk.locator],
            "deleted_through": _dump(self.deleted_through),
            "compare": self.compare,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeedState:
        window = data.get("window")
        after = data.get("after")
        bulk = data.get("bulk")
        upper = _load(window[1]) if window else None
        modstamp = _load(after[0]) if after else None
        return cls(
            watermark=_load(data.get("watermark")),
            window=Window(_load(window[0]), upper) if window and upper else None,
            after=Position(modstamp, after[1]) if after and modstamp else None,
            bulk=BulkJob(str(bulk[0]), bulk[1]) if bulk else None,
            deleted_through=_load(data.get("deleted_through")),
            compare=bool(data.get("compare", False)),
        )


@dataclass
class StreamState:
    feeds: dict[str, FeedState] = field(default_factory=dict)
    schemas: dict[str, Any] = field(default_factory=dict)  # object -> ObjectSchema.as_json()

    def feed(self, name: str) -> FeedState:
        return self.feeds.get(name, FeedState())

    def encode(self) -> str:
        payload = {
            "v": VERSION,
            "feeds": {k: v.as_json() for k, v in sorted(self.feeds.items())},
            "schemas": self.schemas,
        }
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def decode(cls, text: str | None) -> StreamState:
        """A stored cursor; anything unreadable (or an older format) starts from scratch."""
        if not text:
            return cls()
        try:
            data = orjson.loads(text)
            if data.get("v") != VERSION:
                return cls()
            schemas = data.get("schemas") or {}
            return cls(
                {k: FeedState.from_json(v) for k, v in data["feeds"].items()},
                dict(schemas) if isinstance(schemas, dict) else {},
            )
        except (
            orjson.JSONDecodeError,
            AttributeError,
            KeyError,
            TypeError,
            ValueError,
            IndexError,
        ):
            return cls()
