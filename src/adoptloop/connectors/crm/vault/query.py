"""VQL for the incremental reads: windows over modified_date__v, lookups, id lists, deletions.

- A window is read `ORDER BY modified_date__v ASC, id ASC` and paged with
  `responseDetails.next_page` to the end. A position (modified_date__v, id) after the last
  row read makes a restart exact even when many records share one modified date across a
  page boundary. A page cursor Vault no longer knows (it lives 72 hours from its last use, and
  a result set can be dropped sooner) is not an error: the window is queried again from the
  last position read.
- Lookups fetch related rows by id with `CONTAINS (...)`, in chunks.
- Deleted record ids come from `GET /api/{version}/objects/deletions/vobjects/{object}`,
  paged by offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from adoptloop.connectors.crm.vault.client import (
    INVALID_SESSION,
    LIMIT_EXCEEDED,
    VaultClient,
    VaultError,
)
from adoptloop.connectors.rest import MalformedPage

log = structlog.get_logger(__name__)

Row = dict[str, Any]
MODIFIED = "modified_date__v"
# a page cursor expired this many times in a row without a row read in between: give up
MAX_RESTARTS = 3


@dataclass(frozen=True, slots=True)
class Feed:
    """One object a stream reads for changes."""

    name: str
    object: str
    fields: tuple[str, ...]
    where: str | None = None
    deletable: bool = True  # has a deletions log worth reading (user__sys is deactivated)


@dataclass(frozen=True, slots=True)
class Position:
    modified: datetime
    record_id: str | None  # None: nothing at `modified` read yet


def parse_ts(value: str) -> datetime:
    """A Vault DateTime ('2025-06-02T11:58:30.000Z') as aware UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def vql_ts(value: datetime) -> str:
    """A DateTime literal for VQL: UTC, milliseconds, Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}Z"
    )


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _select(fields: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(("id", MODIFIED, *fields)))


def _window_vql(feed: Feed, start: Position | None, upper: datetime, page_size: int) -> str:
    conditions = [f"{MODIFIED} < {quote(vql_ts(upper))}"]
    if start is not None:
        at = quote(vql_ts(start.modified))
        if start.record_id is None:
            conditions.append(f"{MODIFIED} >= {at}")
        else:
            conditions.append(
                f"({MODIFIED} > {at} OR ({MODIFIED} = {at} AND id > {quote(start.record_id)}))"
            )
    if feed.where:
        conditions.append(f"({feed.where})")
    return (
        f"SELECT {_select(feed.fields)} FROM {feed.object} WHERE {' AND '.join(conditions)} "
        f"ORDER BY {MODIFIED} ASC, id ASC PAGESIZE {page_size}"
    )


def _rows(body: dict[str, Any], where: str) -> list[Any]:
    """The answer's `data` array as sent (an element may be malformed); MalformedPage when the
    answer has none."""
    data = body.get("data")
    if data is None and "data" not in body:
        raise MalformedPage("the Vault answer has no data array", where=where)
    if data is None:
        return []
    if not isinstance(data, list):
        raise MalformedPage("the Vault answer's data is not an array", where=where)
    return data


def _records(body: dict[str, Any], where: str) -> list[Row]:
    """The answer's records, each an object with an id; MalformedPage otherwise."""
    rows = _rows(body, where)
    if not all(isinstance(r, dict) and r.get("id") for r in rows):
        raise MalformedPage(
            "the Vault answer has a record that is not an object with an id", where=where
        )
    return rows


def row_defect(row: Any) -> str | None:
    """Why a window's row cannot be read (it is quarantined, the rest of the page is read)."""
    if not isinstance(row, dict):
        return f"a record must be a JSON object, got {type(row).__name__}"
    record_id = row.get("id")
    if not isinstance(record_id, str | int) or isinstance(record_id, bool) or not str(record_id):
        return "id is missing or not a text"
    modified = row.get(MODIFIED)
    if not isinstance(modified, str):
        return f"{MODIFIED} is missing or not a text"
    try:
        parse_ts(modified)
    except ValueError:
        return f"{MODIFIED}: {modified[:40]!r} is not a date-time"
    return None


def _next(body: dict[str, Any]) -> str | None:
    details = body.get("responseDetails")
    following = details.get("next_page") if isinstance(details, dict) else None
    return str(following) if following else None


def _expired(exc: VaultError) -> bool:
    """A failure of a next_page call that re-querying can cure (not a session, not a limit)."""
    return INVALID_SESSION not in exc.types and LIMIT_EXCEEDED not in exc.types


def window(
    client: VaultClient, feed: Feed, start: Position | None, upper: datetime, page_size: int
) -> Iterator[tuple[list[Row], Position | None]]:
    """The window's rows page by page (a malformed row as sent: see `row_defect`), each with
    the position after its last readable row."""
    position = start
    body = client.query(_window_vql(feed, position, upper, page_size))
    restarts = 0
    number = 1
    while True:
        rows = _rows(body, f"{feed.object} window, page {number}")
        readable = [r for r in rows if row_defect(r) is None]
        if readable:
            last = readable[-1]
            position = Position(parse_ts(str(last[MODIFIED])), str(last["id"]))
            restarts = 0
        yield rows, position
        following = _next(body)
        if following is None:
            return
        number += 1
        try:
            body = client.page(following)
        except VaultError as exc:
            if not _expired(exc) or restarts >= MAX_RESTARTS:
                raise
            restarts += 1
            log.warning(
                "Vault no longer knows the query's next page; querying the window again from "
                "the last record read",
                object=feed.object,
                reason=str(exc),
            )
            body = client.query(_window_vql(feed, position, upper, page_size))


def _all_pages(client: VaultClient, vql: str, what: str) -> Iterator[Row]:
    body = client.query(vql)
    while True:
        yield from _records(body, what)
        following = _next(body)
        if following is None:
            return
        body = client.page(following)


def lookup(
    client: VaultClient,
    object_name: str,
    fields: Sequence[str],
    key_field: str,
    ids: Iterable[str],
    *,
    chunk: int,
    where: str | None = None,
) -> list[Row]:
    """Rows whose `key_field` is one of `ids`."""
    wanted = list(dict.fromkeys(ids))
    found: list[Row] = []
    for start in range(0, len(wanted), chunk):
        part = ", ".join(quote(i) for i in wanted[start : start + chunk])
        condition = f"{key_field} CONTAINS ({part})" + (f" AND ({where})" if where else "")
        vql = f"SELECT {_select(fields)} FROM {object_name} WHERE {condition}"
        found.extend(_all_pages(client, vql, f"{object_name} lookup by {key_field}"))
    return found


def list_ids(client: VaultClient, feed: Feed) -> list[str]:
    """Every id of the feed's object that its filter admits."""
    vql = f"SELECT id FROM {feed.object}" + (f" WHERE {feed.where}" if feed.where else "")
    return [str(row["id"]) for row in _all_pages(client, vql, f"{feed.object} id list")]


def _deletions_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deleted_ids(
    client: VaultClient, object_name: str, start: datetime, end: datetime, page_size: int
) -> list[str]:
    """Ids of the object's records deleted in [start, end]."""
    path = f"{client.api}/objects/deletions/vobjects/{object_name}"
    ids: list[str] = []
    offset = 0
    while True:
        body = client.call(
            "GET",
            path,
            params={
                "start_date": _deletions_ts(start),
                "end_date": _deletions_ts(end),
                "limit": page_size,
                "offset": offset,
            },
        )
        rows = _records(body, f"{object_name} deletions")
        ids.extend(str(r["id"]) for r in rows)
        details = body.get("responseDetails")
        total = details.get("total") if isinstance(details, dict) else None
        offset += len(rows)
        if not rows or not isinstance(total, int) or offset >= total:
            return ids
