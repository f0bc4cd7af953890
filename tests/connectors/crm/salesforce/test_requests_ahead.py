"""Requests made ahead of need (issue 17, pull_vs_bare_fetch): the next Bulk result page is on
the wire while this one's rows are mapped (point 1), and the chunks of ids of one lookup (a
page's ride-along children) are queried at the same time (point 2). The rows, records and
checkpoints are the ones a read in line gives; a page that fails or whose session expired
while it was fetched ahead is handled as in line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import requests

from adoptloop.connectors.crm.salesforce.connector import SalesforceConnector
from adoptloop.domain import Checkpoint, FieldInteraction, Item
from adoptloop.errors import FatalSyncError
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import connector, make_config, read, records
from tests.connectors.crm.salesforce.scenario import Veeva

WAIT = 10.0  # seconds a test waits for another thread before it fails
PAGE = 4  # rows per Bulk result page


def _config(org: FakeOrg, key: str, **sync: Any) -> Any:
    return make_config(
        org, key, sync={"bulk_above_rows": 1, "bulk_page_size": PAGE, "max_attempts": 2, **sync}
    )


def _calls(veeva: Veeva, n: int) -> list[str]:
    calls = [veeva.call(veeva.reps[d % 3], date(2026, 1, d)) for d in range(1, n + 1)]
    veeva.org.tick(minutes=1)
    return calls


def _results(org: FakeOrg, since: int = 0) -> int:
    return sum(1 for _, path, _ in org.log[since:] if path.endswith("/results"))


def _on_page(org: FakeOrg, monkeypatch: pytest.MonkeyPatch, act: Callable[[int], None]) -> None:
    """Calls `act(offset)` as the fake org renders each result page (offset: its first row)."""
    render = org.job_csv

    def job_csv(job: Any, offset: int, size: int) -> tuple[str, str | None, int]:
        act(offset)
        return render(job, offset, size)

    monkeypatch.setattr(org, "job_csv", job_csv)


def test_the_next_bulk_page_is_requested_while_this_pages_rows_are_taken(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    """Issue 17 point 1: once page 1 has arrived, page 2 is requested while the caller still
    holds page 1's rows; read in line, page 2 was asked for only after them."""
    calls = _calls(veeva, 10)
    items = connector(org, _config(org, rsa_key[0]), capabilities).read("calls", None)
    first = next(i for i in items if isinstance(i, FieldInteraction))

    deadline = time.monotonic() + WAIT
    while _results(org) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _results(org) == 2  # page 2 on the wire, page 3 not yet (one page ahead)

    rest = [first, *items]
    assert sorted(i.source_record_id for i in records(rest, FieldInteraction)) == calls
    assert _results(org) == 3


def test_a_prefetched_page_that_fails_stops_after_the_page_before_and_resumes_there(
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 point 1 (resumable): page 2, fetched ahead, fails for good (the connection
    drops on every try): the read hands on page 1's records and checkpoint, then raises; the
    next run resumes from that checkpoint: every call once, none lost, none twice."""
    calls = _calls(veeva, 10)
    failing = [True]

    def drop_page_2(offset: int) -> None:
        if offset == PAGE and failing[0]:
            raise requests.ConnectionError("Connection reset by peer")

    _on_page(org, monkeypatch, drop_page_2)
    config = _config(org, rsa_key[0])
    taken: list[Item] = []
    with pytest.raises(FatalSyncError, match="gave up after 2 tries"):
        taken.extend(connector(org, config, capabilities).read("calls", None))
    checkpoints = [i for i in taken if isinstance(i, Checkpoint)]
    _, locator = json.loads(checkpoints[-1].cursor)["feeds"]["calls"]["bulk"]
    assert locator  # past page 1, at page 2
    first = [i.source_record_id for i in records(taken, FieldInteraction)]
    assert len(first) == PAGE

    failing[0] = False
    resumed, _ = read(connector(org, config, capabilities), "calls", checkpoints[-1].cursor)

    ids = first + [i.source_record_id for i in records(resumed, FieldInteraction)]
    assert sorted(ids) == calls  # none lost, none twice


def test_a_session_expiring_on_the_page_fetched_ahead_is_renewed(
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 point 1 (re-authentication): the session dies just as page 2, fetched ahead
    in its own thread, is asked for (401 INVALID_SESSION_ID): the connector logs in again,
    asks for page 2 again and ends with every call."""
    calls = _calls(veeva, 10)

    def expire_on_page_2(offset: int) -> None:
        if offset == 0:
            org.expire_at = "/results"  # the next results request (page 2) gets a 401

    _on_page(org, monkeypatch, expire_on_page_2)

    items, _ = read(connector(org, _config(org, rsa_key[0]), capabilities), "calls")

    assert sorted(i.source_record_id for i in records(items, FieldInteraction)) == calls
    assert len(org.logins) == 2
    assert _results(org) == 4  # page 2 twice: refused, then answered


def test_the_id_chunks_of_one_lookup_are_queried_at_the_same_time(
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 point 2: a page's ride-along lookup in chunks of 1 id sends its chunks
    together (the first two meet in the org before either is answered; one by one, the first
    would wait for the second for ever), and finds each call's manager as before."""
    calls = _calls(veeva, 4)
    for call in calls[1::2]:
        veeva.ride_along(call)
    org.tick(minutes=1)
    meet = threading.Barrier(2, timeout=WAIT)
    waiting = [2]  # lookups that wait for each other; the ones after pass
    run = org.run

    def run_meeting(text: str, *, include_deleted: bool) -> Any:
        if "Parent_Call_vod__c IN" in text and waiting[0] > 0:
            waiting[0] -= 1
            meet.wait()
        return run(text, include_deleted=include_deleted)

    monkeypatch.setattr(org, "run", run_meeting)
    config = make_config(org, rsa_key[0], sync={"lookup_chunk": 1})

    items, _ = read(connector(org, config, capabilities), "calls")

    found = {i.source_record_id: i.manager for i in records(items, FieldInteraction)}
    assert sorted(found) == calls
    assert [found[c] is not None for c in calls] == [False, True, False, True]


def test_a_read_leaves_no_lookup_threads_behind(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    """Issue 17 point 2: the lookups' threads live as long as one stream's read (a service
    running a read every night keeps none of them), also when the caller leaves early."""
    _calls(veeva, 10)
    conn: SalesforceConnector = connector(org, _config(org, rsa_key[0]), capabilities)
    read(conn, "calls")
    items = conn.read("calls", None)
    next(items)
    items.close()  # type: ignore[attr-defined]

    assert not [t for t in threading.enumerate() if t.name.startswith(("lookup", "bulk-page"))]
