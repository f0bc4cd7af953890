"""SOQL for incremental windows, and reading them over REST (query / queryAll).

A window is read ordered by (SystemModstamp, Id) so that the last record of each page is a
resume point: the next query continues with
`(SystemModstamp > :m OR (SystemModstamp = :m AND Id > :id))`, which stays exact when many
records share one SystemModstamp across a page boundary. On QUERY_TIMEOUT the rest of the
window is split in two halves (down to `min_split_seconds`), each read in turn; an expired
nextRecordsUrl (INVALID_QUERY_LOCATOR) restarts the query after the last row read, for a window
and for the `Id IN (...)` lookups of related rows alike (`restartable_pages`).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adoptloop.connectors.crm.records import parse_ts
from adoptloop.connectors.crm.salesforce.client import (
    QueryLocatorInvalid,
    QueryTimeout,
    SalesforceClient,
)
from adoptloop.connectors.crm.salesforce.cursor import Position, soql_ts
from adoptloop.errors import FatalSyncError

Row = dict[str, Any]

# Splitting a window that has no lower bound (the first backfill) starts here.
SPLIT_FLOOR = datetime(2000, 1, 1, tzinfo=UTC)
_ID = re.compile(r"[A-Za-z0-9]{15,18}")
_MAX_RESTARTS = 3


@dataclass(frozen=True)
class Feed:
    """One object read incrementally by SystemModstamp."""

    name: str  # key in the stream's cursor
    sobject: str
    fields: tuple[str, ...]
    where: str | None = None
    deletable: bool = True  # has IsDeleted: read with queryAll, check the deleted endpoint
    # in a backfill (a window from the beginning) only the rows that match this as well: the
    # mapper looks the others up with their parent (a call's ride-along children)
    backfill_where: str | None = None
    # the feed whose reads look this feed's rows up with their parent (a report's answers):
    # its backfill brings them, so this feed starts where that backfill ends
    fetched_with: str | None = None

    def backfill(self) -> Feed:
        """The feed as a backfill window reads it."""
        if not self.backfill_where:
            return self
        return replace(
            self,
            where=" AND ".join(c for c in (grouped(self.where), self.backfill_where) if c),
            backfill_where=None,
        )

    def select(self) -> list[str]:
        base = ["Id", "SystemModstamp", *(["IsDeleted"] if self.deletable else [])]
        return list(dict.fromkeys([*base, *self.fields]))


def quote(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def checked_ids(ids: Iterable[str]) -> list[str]:
    """Salesforce ids only (15/18 alphanumerics): nothing else is spliced into SOQL."""
    return [i for i in dict.fromkeys(ids) if _ID.fullmatch(i)]


def range_predicate(start: Position | None, upper: datetime | None) -> list[str]:
    parts: list[str] = []
    if start is not None:
        ts = soql_ts(start.modstamp)
        if start.record_id is None:
            parts.append(f"SystemModstamp >= {ts}")
        else:
            parts.append(
                f"(SystemModstamp > {ts} OR (SystemModstamp = {ts} AND Id > {quote(start.record_id)}))"
            )
    if upper is not None:
        parts.append(f"SystemModstamp < {soql_ts(upper)}")
    return parts


def soql(
    sobject: str,
    fields: Sequence[str],
    conditions: Sequence[str | None],
    *,
    order: str | None = None,
) -> str:
    where = [c for c in conditions if c]
    text = f"SELECT {', '.join(fields)} FROM {sobject}"
    if where:
        text += " WHERE " + " AND ".join(where)
    if order:
        text += f" ORDER BY {order}"
    return text


def grouped(condition: str | None) -> str | None:
    """A configured SOQL filter, parenthesised so that its ORs stay its own."""
    return None if not condition else f"({condition})"


def window_soql(feed: Feed, start: Position | None, upper: datetime, *, ordered: bool) -> str:
    return soql(
        feed.sobject,
        feed.select(),
        [grouped(feed.where), *range_predicate(start, upper)],
        order="SystemModstamp, Id" if ordered else None,
    )


def flatten(record: dict[str, Any], prefix: str = "") -> Row:
    """A REST record as a flat dict; relationship fields become 'RecordType.DeveloperName'."""
    flat: Row = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def modstamp(row: Row) -> datetime:
    return parse_ts(str(row["SystemModstamp"]))


def query_pages(
    client: SalesforceClient, text: str, *, include_deleted: bool
) -> Iterator[list[Row]]:
    """Every page of a REST query, following nextRecordsUrl."""
    result = client.query(text, include_deleted=include_deleted)
    while True:
        yield [flatten(r) for r in result.get("records", [])]
        next_url = result.get("nextRecordsUrl")
        if result.get("done", True) or not next_url:
            return
        result = client.query_more(str(next_url))


def restartable_pages(
    client: SalesforceClient, text_after: Callable[[Row | None], str], *, include_deleted: bool
) -> Iterator[list[Row]]:
    """Every page of a query ordered by a unique key, restarted after the last row read when
    its nextRecordsUrl expires (INVALID_QUERY_LOCATOR): `text_after(row)` is the query for what
    follows `row` (None: from the start). Gives up after a few restarts without progress."""
    last: Row | None = None
    restarts = 0
    while True:
        try:
            for rows in query_pages(client, text_after(last), include_deleted=include_deleted):
                if rows:
                    last, restarts = rows[-1], 0
                    yield rows
        except QueryLocatorInvalid:
            restarts += 1
            if restarts > _MAX_RESTARTS:
                raise
            continue
        return


def count(
    client: SalesforceClient, feed: Feed, start: Position | None, upper: datetime
) -> int | None:
    """Rows in the window (deleted included); None when even counting times out."""
    text = soql(feed.sobject, ["COUNT()"], [grouped(feed.where), *range_predicate(start, upper)])
    try:
        result = client.query(text, include_deleted=feed.deletable)
    except QueryTimeout:
        return None
    return int(result.get("totalSize", 0))


def rest_window(
    client: SalesforceClient,
    feed: Feed,
    start: Position | None,
    upper: datetime,
    *,
    min_split: timedelta,
) -> Iterator[tuple[list[Row], Position]]:
    """Pages of the window [start, upper) in (SystemModstamp, Id) order, each with the
    position reached after it; an empty page marks a completed part of a split window."""
    position = start
    uppers = [upper]
    while uppers:
        part_upper = uppers[-1]
        begin = position

        def text_after(
            last: Row | None, begin: Position | None = begin, end: datetime = part_upper
        ) -> str:
            after = begin if last is None else Position(modstamp(last), str(last["Id"]))
            return window_soql(feed, after, end, ordered=True)

        try:
            for rows in restartable_pages(client, text_after, include_deleted=feed.deletable):
                position = Position(modstamp(rows[-1]), str(rows[-1]["Id"]))
                yield rows, position
        except QueryTimeout:
            if position is None:  # bound the halves below too, or they time out the same way
                position = Position(SPLIT_FLOOR, None)
            low = position.modstamp
            span = part_upper - low
            if span < 2 * min_split:
                raise FatalSyncError(
                    f"{feed.sobject}: QUERY_TIMEOUT even for a window of {span}; ask Salesforce "
                    "support for a custom index on SystemModstamp or narrow the stream's `where`"
                ) from None
            middle = low + span / 2
            uppers.append(middle.replace(microsecond=0))
            continue
        uppers.pop()
        position = Position(part_upper, None)
        if uppers:
            yield [], position


def lookup(
    client: SalesforceClient,
    sobject: str,
    fields: Sequence[str],
    key_field: str,
    ids: Iterable[str],
    *,
    include_deleted: bool,
    chunk: int,
    where: str | None = None,
    pool: Executor | None = None,
) -> list[Row]:
    """Rows whose `key_field` is one of `ids`, in chunks of `chunk` ids, each chunk's ordered by
    Id, the chunks in the order of `ids`. With a `pool`, the chunks' queries run in its threads
    at the same time (each in the caller's context); the first that fails raises here."""
    wanted = checked_ids(ids)
    selected = list(dict.fromkeys(["Id", *fields]))

    def rows_of(part: list[str]) -> list[Row]:
        condition = f"{key_field} IN ({', '.join(quote(i) for i in part)})"

        def text_after(last: Row | None) -> str:
            after = None if last is None else f"Id > {quote(str(last['Id']))}"
            return soql(sobject, selected, [condition, grouped(where), after], order="Id")

        pages = restartable_pages(client, text_after, include_deleted=include_deleted)
        return [row for page in pages for row in page]

    parts = [wanted[offset : offset + chunk] for offset in range(0, len(wanted), chunk)]
    if pool is None or len(parts) < 2:
        found = [rows_of(part) for part in parts]
    else:
        futures = [pool.submit(contextvars.copy_context().run, rows_of, p) for p in parts]
        try:
            found = [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()  # after a failure: the chunks not yet sent never are
    return [row for rows in found for row in rows]


def list_ids(client: SalesforceClient, feed: Feed) -> Iterator[str]:
    """The Id of every live record of the feed's object that its `where` selects (recycle bin
    excluded), in Id order; an expired nextRecordsUrl restarts after the last Id listed."""
    last: str | None = None
    restarts = 0
    while True:
        after = None if last is None else f"Id > {quote(last)}"
        text = soql(feed.sobject, ["Id"], [grouped(feed.where), after], order="Id")
        try:
            for rows in query_pages(client, text, include_deleted=False):
                for row in rows:
                    last = str(row["Id"])
                    yield last
                restarts = 0
        except QueryLocatorInvalid:
            restarts += 1
            if restarts > _MAX_RESTARTS:
                raise
            continue
        return
