"""Reading a window with a Bulk API 2.0 query job (backfills and other large windows).

Bulk 2.0 does not sort (ORDER BY disables its chunking), so a bulk read cannot resume from a
(SystemModstamp, Id) position. It resumes from the job instead: the job id is checkpointed as
soon as the job exists, and after each result page the `Sforce-Locator` of the next page.
Result sets are kept for days, so a run stopped on the API budget continues with the same job.
A job that failed, was aborted or has expired makes the caller read the window over REST.
"""

from __future__ import annotations

import contextvars
import csv
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import structlog

from adoptloop.connectors.crm.salesforce.client import NotFound, SalesforceClient
from adoptloop.connectors.crm.salesforce.cursor import BulkJob, Position
from adoptloop.connectors.crm.salesforce.query import Feed, Row, window_soql
from adoptloop.errors import FatalSyncError
from adoptloop.http.retry import Sleep

log = structlog.get_logger(__name__)


# rows of a result page parsed and handed on at a time (the pull's batch): a page comes in
# several, so that the next one's lookups overlap this one's mapping (sync.in_order)
CHUNK_ROWS = 2_000
_NUMBER_TYPES = {"double", "currency", "percent"}
_INT_TYPES = {"int", "long"}
_TYPED = {"boolean", *_INT_TYPES, *_NUMBER_TYPES}  # the types whose cells are not kept as text


class BulkUnavailable(Exception):
    """The job failed, was aborted or expired: read the window another way."""


def _converter(field_type: str | None) -> Callable[[str], Any]:
    """The function turning a cell of a column of this type into its JSON value."""
    if field_type == "boolean":
        return lambda v: None if v == "" else v.lower() == "true"
    if field_type in _INT_TYPES:
        return lambda v: None if v == "" else int(float(v))
    if field_type in _NUMBER_TYPES:
        return lambda v: None if v == "" else float(v)
    return lambda v: v or None


def parse_csv_chunks(
    text: str, types: Mapping[str, str], size: int = CHUNK_ROWS
) -> Iterator[list[Row]]:
    """The rows of a result page, `size` at a time: a whole page is never all dicts.

    Rows as csv.DictReader would give them (a short row's missing cells are null, a long row's
    extra cells a list under None), each cell converted by its column's type, found once.
    """
    reader = csv.reader(_lines(text))
    header = next(reader, None)
    if header is None:
        return
    width = len(header)
    columns = [(name, _converter(types.get(name))) for name in header]
    # every converter turns an empty cell into None; only the typed columns (a flag, a
    # number) convert the others, so a row is the header zipped with its cells, empties as
    # None, and then those few columns converted (no function call per text cell)
    typed = [(name, _converter(types[name])) for name in header if types.get(name) in _TYPED]
    chunk: list[Row] = []
    for cells in reader:
        if not cells:
            continue  # a blank line, skipped as DictReader does
        if len(cells) == width:
            # not strict: the lengths are equal (checked), and zip's check costs a quarter of
            # the row's making
            row = dict(zip(header, [v or None for v in cells]))  # noqa: B905
            for name, convert in typed:
                v = row[name]
                if v is not None:
                    row[name] = convert(v)
            chunk.append(row)
        else:
            chunk.append(_ragged(columns, cells))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ragged(columns: list[tuple[str, Callable[[str], Any]]], cells: list[str]) -> Row:
    row: Row = {
        name: convert(cells[i] if i < len(cells) else "")
        for i, (name, convert) in enumerate(columns)
    }
    if len(cells) > len(columns):
        row[None] = cells[len(columns) :]  # type: ignore[index]
    return row


def _lines(text: str) -> Iterator[str]:
    """The text's lines, each with its "\\n", split there only (a quoted field may hold a
    newline; csv joins it back). Unlike io.StringIO, this keeps no second copy of the text."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def bulk_window(
    client: SalesforceClient,
    feed: Feed,
    job: BulkJob | None,
    start: Position | None,
    upper: datetime,
    *,
    types: Mapping[str, str],
    sleep: Sleep,
    poll_seconds: float,
    timeout_seconds: float,
) -> Iterator[tuple[list[Row], BulkJob | None, bool]]:
    """Rows of the window, each batch with the job state to checkpoint after it (None = done)
    and whether the batch after it is in hand (True: the rest of a page already fetched; False:
    the next one costs a request, so a caller that reads ahead waits until it is asked for).

    The first item, for a new job, is an empty batch carrying the job to checkpoint. A result
    page comes in batches of CHUNK_ROWS rows: the ones before its last carry the page's own
    locator (a resume re-reads the page), the last one the next page's. The next page is
    requested in a thread as soon as this one has arrived (its locator is in this one's
    answer), so that it is on the wire while this one is parsed and mapped: one page ahead at
    most, and a read stopped before its rows costs that one request.
    """
    if job is None:
        created = client.bulk_create(window_soql(feed, start, upper, ordered=False))
        job = BulkJob(str(created["id"]))
        log.info("bulk query job created", sobject=feed.sobject, job=job.job_id)
        yield [], job, False
    _wait(client, job.job_id, sleep=sleep, poll_seconds=poll_seconds, timeout=timeout_seconds)
    with ThreadPoolExecutor(1, thread_name_prefix="bulk-page") as fetcher:
        coming = _fetch(fetcher, client, job.job_id, job.locator)
        locator = job.locator
        try:
            while True:
                try:
                    text, following = coming.result()
                except NotFound:
                    raise BulkUnavailable(f"bulk job {job.job_id} results are gone") from None
                if following is not None:
                    # the next page is on the wire while this one is parsed and mapped
                    coming = _fetch(fetcher, client, job.job_id, following)
                chunks = parse_csv_chunks(text, types)
                del text
                chunk = next(chunks, [])
                for ahead in chunks:
                    yield chunk, BulkJob(job.job_id, locator), True
                    chunk = ahead
                if following is None:
                    yield chunk, None, False
                    return
                locator = following
                yield chunk, BulkJob(job.job_id, following), False
        finally:
            coming.cancel()  # not started yet: never sent; under way: waited for, then dropped


def _fetch(
    fetcher: Executor, client: SalesforceClient, job_id: str, locator: str | None
) -> Future[tuple[str, str | None]]:
    """One result page requested in the fetcher's thread (in the caller's context: the log's
    bound connector and stream); its errors are raised where the page is taken."""
    run = contextvars.copy_context().run
    return fetcher.submit(run, client.bulk_results, job_id, locator)


def _wait(
    client: SalesforceClient, job_id: str, *, sleep: Sleep, poll_seconds: float, timeout: float
) -> None:
    waited = 0.0
    delay = min(0.5, poll_seconds)
    while True:
        try:
            state = str(client.bulk_job(job_id).get("state"))
        except NotFound:
            raise BulkUnavailable(f"bulk job {job_id} no longer exists") from None
        if state == "JobComplete":
            return
        if state in ("Failed", "Aborted"):
            raise BulkUnavailable(f"bulk job {job_id} ended {state}")
        if waited >= timeout:
            raise FatalSyncError(
                f"bulk job {job_id} still {state} after {waited:.0f} s; the next run picks it up "
                "again (raise sync.bulk_timeout_minutes for very large backfills)"
            )
        sleep(delay)
        waited += delay
        delay = min(delay * 2, poll_seconds)
