"""Limits: expired sessions, the daily API budget, REQUEST_LIMIT_EXCEEDED, 5xx and network errors."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.domain import FieldInteraction, Stopped
from adoptloop.errors import FatalSyncError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.pipeline.outcome import judge
from tests.connectors.crm.salesforce.fake_org import INSTANCE, FakeOrg
from tests.connectors.crm.salesforce.harness import (
    SOURCE,
    Pipeline,
    Sleeps,
    connector,
    make_config,
    read,
    records,
)
from tests.connectors.crm.salesforce.scenario import Veeva, ts

JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _busy_org(veeva: Veeva) -> None:
    """A few weeks of calls, ride-alongs and both kinds of coaching report."""
    org = veeva.org
    for day in range(2, 20):
        rep = veeva.reps[day % 3]
        call = veeva.call(rep, date(2026, 2, day))
        if day % 4 == 0:
            veeva.ride_along(call)
        if day % 5 == 0:
            veeva.report(rep, date(2026, 2, day), Opening_Rating__c=day % 5 + 1)
        if day % 6 == 0:
            veeva.advanced(rep, submitted=ts(date(2026, 2, day)), opening=4, closing="3")
        org.tick(minutes=7)


def test_an_expired_session_is_renewed_and_the_read_resumes_without_leaking_tokens(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    calls = [veeva.call(veeva.reps[0], date(2026, 2, d)) for d in range(1, 8)]
    org.tick(minutes=1)
    org.expire_after_calls = 7  # the session dies in the middle of the calls stream
    conn = connector(org, config, capabilities)

    with capture_logs() as logs:
        read(conn, "users")
        items, _ = read(conn, "calls")

    assert [i.source_record_id for i in records(items, FieldInteraction)] == calls
    assert org.logins == [JWT, JWT]
    assert any(e["event"].startswith("salesforce session expired") for e in logs)
    text = json.dumps(logs, default=str)
    assert all(token not in text for token in org.issued)


def test_a_configured_session_that_expires_stops_with_how_to_fix_it(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    token = org.issue_token("handed-over")
    config = make_config(
        org,
        rsa_key[0],
        auth={"type": "session", "instance_url": INSTANCE, "session_id": _resolved(token)},
    )
    conn = connector(org, config, capabilities)
    read(conn, "users")
    org.expire_sessions()

    with pytest.raises(FatalSyncError, match="jwt-bearer or client-credentials"):
        read(conn, "calls")
    assert org.logins == ["handed-over"]  # never tried to log in by itself


def test_the_api_budget_stops_at_a_checkpoint_and_later_runs_end_with_the_same_store(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    _busy_org(veeva)
    uninterrupted = Pipeline(tmp_path / "one-run", org, make_config(org, rsa_key[0]), capabilities)
    uninterrupted.run()
    thrifty = make_config(org, rsa_key[0], sync={"max_api_share": 0.12})
    interrupted = Pipeline(tmp_path / "budgeted", org, thrifty, capabilities)
    org.api_limit, org.api_used = 100, 0  # stop after 12 calls a day

    with capture_logs() as logs:
        interrupted.run()
    first_stop = interrupted.last.stopped if interrupted.last else None
    assert first_stop is not None
    assert (first_stop.used, first_stop.total) == (12, 100)
    assert any("API budget reached" in e["event"] for e in logs)
    calls_cursor = json.loads(interrupted.cursor("calls") or "{}")
    assert calls_cursor["feeds"]["calls"]["window"] is not None  # a window left half-read
    # the run says it stopped early (exit 75), and the source is not complete until it is
    assert interrupted.pull_stage is not None
    assert set(interrupted.pull_stage.stopped) == {SOURCE}
    stopped = interrupted.read_of_crm()
    assert stopped.stopped_reason is not None
    assert stopped.complete_run_id is None
    problems = judge({SOURCE: stopped}, {SOURCE: 0.05}, interrupted.pull_stage.stopped)
    assert problems.status == "stopped"
    assert problems.exit_code == 75

    days = 1
    while interrupted.last is not None and interrupted.last.stopped is not None:
        org.tick(days=1)
        org.api_used = 0  # a new day, a new budget
        interrupted.run()
        days += 1
        assert days < 30, "the interrupted sync never finished"

    assert days > 2
    complete = interrupted.read_of_crm()
    assert complete.stopped_reason is None
    assert complete.complete_run_id is not None
    assert interrupted.live() == uninterrupted.live()
    assert interrupted.standing() == uninterrupted.standing()


def test_request_limit_exceeded_stops_the_sync_without_retrying(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    _busy_org(veeva)
    sleeps = Sleeps()
    conn = connector(org, config, capabilities, sleeps)
    _, users_cursor = read(conn, "users")
    org.api_used = org.api_limit  # the org's iPads used up the day's requests meanwhile
    before = len(org.log)

    calls, calls_cursor = read(conn, "calls")
    reports, _ = read(conn, "coaching_reports")

    assert len(org.log) - before == 1  # one refused request, not retried
    assert conn.stopped is not None
    assert "REQUEST_LIMIT_EXCEEDED" in str(conn.stopped)
    assert sleeps == []
    assert [type(i) for i in calls] == [Stopped]  # nothing read; the stream says it stopped
    assert calls_cursor is None  # nothing read, the cursor stays where it was
    assert [type(i) for i in reports] == [Stopped]  # the remaining streams wait for next run
    assert users_cursor is not None


def test_server_errors_and_dropped_connections_are_retried_with_backoff(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    call = veeva.call(veeva.reps[0], date(2026, 2, 25))
    org.tick(minutes=1)
    sleeps = Sleeps()
    conn = connector(org, config, capabilities, sleeps)
    read(conn, "users")
    org.fail_next = [503, 0, 500]  # 0 = the connection drops

    items, _ = read(conn, "calls")

    assert [i.source_record_id for i in records(items, FieldInteraction)] == [call]
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)  # exponential back-off, never shrinking


def test_persistent_server_errors_give_up_after_the_configured_tries(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = make_config(org, rsa_key[0], sync={"max_attempts": 3})
    sleeps = Sleeps()
    conn = connector(org, config, capabilities, sleeps)
    read(conn, "users")
    org.fail_next = [503] * 10

    with pytest.raises(FatalSyncError, match="gave up after 3 tries"):
        read(conn, "calls")
    assert len(sleeps) == 2


def _resolved(value: str) -> str:
    from adoptloop.fields import Resolved

    return Resolved(value)


def test_a_hard_delete_during_a_backfill_stopped_by_the_budget_is_read_when_it_resumes(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    """The delete log is read from the start of the first read, not from the upper bound of
    the run that resumes it: a record read, then hard-deleted while the backfill waited for
    a new API budget, is deleted once it finishes (however long the wait)."""
    _busy_org(veeva)
    thrifty = make_config(org, rsa_key[0], sync={"max_api_share": 0.12})
    pipeline = Pipeline(tmp_path / "budgeted", org, thrifty, capabilities)
    org.api_limit, org.api_used = 100, 0
    pipeline.run()
    assert pipeline.last is not None
    assert pipeline.last.stopped is not None
    read_so_far = [r["record_id"] for r in pipeline.live()["interactions"]]
    assert read_so_far, "the first run read some calls before the budget ran out"
    gone = read_so_far[0]
    org.tick(hours=3)  # well past the look-back
    org.hard_delete("Call2_vod__c", gone)

    days = 0
    while pipeline.last is not None and pipeline.last.stopped is not None:
        org.tick(days=1)
        org.api_used = 0
        pipeline.run()
        days += 1
        assert days < 30, "the interrupted sync never finished"

    assert gone not in [r["record_id"] for r in pipeline.live()["interactions"]]


def test_the_delete_log_read_after_a_resumed_backfill_starts_where_the_first_read_began(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15, point 1 (deletes read for every interval since the last complete delete read,
    across budget stops and resumes of any length): the run that completes a backfill begun
    days earlier asks the deleted-records endpoint from the first read's bound, not from its
    own. (The id comparison that ends a full read also removes a record hard-deleted in the
    wait, so only the interval asked for tells the two apart.)"""
    _busy_org(veeva)
    asked: list[tuple[str, datetime]] = []
    listed = org.deleted_between

    def recording(sobject: str, start: datetime, end: datetime) -> list[dict[str, str]]:
        asked.append((sobject, start))
        return listed(sobject, start, end)

    monkeypatch.setattr(org, "deleted_between", recording)
    thrifty = make_config(org, rsa_key[0], sync={"max_api_share": 0.12})
    pipeline = Pipeline(tmp_path, org, thrifty, capabilities)
    org.api_limit, org.api_used = 100, 0
    first_bound = org.now
    pipeline.run()
    assert pipeline.last is not None
    assert pipeline.last.stopped is not None
    days = 0
    while pipeline.last is not None and pipeline.last.stopped is not None:
        org.tick(days=2)
        org.api_used = 0
        pipeline.run()
        days += 1
        assert days < 7, "the interrupted sync never finished"

    calls = [start for sobject, start in asked if sobject == "Call2_vod__c"]
    assert calls, "the calls' delete log was read"
    assert min(calls) <= first_bound
