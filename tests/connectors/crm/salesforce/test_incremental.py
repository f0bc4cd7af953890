"""Incremental rules: SystemModstamp windows with a frozen upper bound, (SystemModstamp, Id)
keyset paging, look-back, soft and hard deletes, QUERY_TIMEOUT splits."""

from __future__ import annotations

import json
from datetime import date, timedelta

from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.domain import Checkpoint, CoachingObservation, Deleted, FieldInteraction
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import connector, make_config, read, records
from tests.connectors.crm.salesforce.scenario import Veeva


def _queries(org: FakeOrg, sobject: str) -> list[str]:
    return [q for _, _, q in org.log if f"FROM {sobject} " in q + " " and "IN (" not in q]


def test_all_next_records_url_pages_are_read_and_each_page_ends_with_a_checkpoint(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    calls = [
        veeva.call(veeva.reps[0], date(2026, 2, d)) for d in range(1, 8)
    ]  # 7 calls, pages of 3
    org.tick(minutes=1)

    items = list(connector(org, config, capabilities).read("calls", None))

    assert [i.source_record_id for i in records(items, FieldInteraction)] == calls
    checkpoints = [i for i, item in enumerate(items) if isinstance(item, Checkpoint)]
    assert len(checkpoints) >= 3  # one per page, then the window's end
    more = [p for _, p, _ in org.log if "/query/01g" in p]
    assert len(more) == 2  # pages 2 and 3 came through nextRecordsUrl


def test_records_sharing_one_systemmodstamp_across_a_page_boundary_resume_exactly(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    same_second = [veeva.call(veeva.reps[0], date(2026, 2, d)) for d in range(1, 6)]  # 5 at once
    org.tick(minutes=1)
    first_page = []
    for item in connector(org, config, capabilities).read("calls", None):
        if isinstance(item, Checkpoint):
            cursor = item.cursor
            break
        first_page.append(item)
    # the run stops after its first page; the next run starts from that checkpoint
    after = json.loads(cursor)["feeds"]["calls"]["after"]
    assert after[1] == same_second[2]  # (SystemModstamp, Id) of the page's last record

    rest, _ = read(connector(org, config, capabilities), "calls", cursor)

    ids = [i.source_record_id for i in records(first_page + rest, FieldInteraction)]
    assert sorted(ids) == same_second
    assert len(ids) == len(set(ids)) == 5
    # the last window query (the full read, begun by the earlier run, then lists the ids)
    resumed = [q for q in _queries(org, "Call2_vod__c") if "SystemModstamp <" in q][-1]
    assert f"(SystemModstamp = 2026-03-02T08:00:00Z AND Id > '{same_second[2]}')" in resumed


def test_a_late_offline_edit_is_read_by_its_systemmodstamp_not_its_visit_date(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    veeva.call(veeva.reps[0], date(2026, 3, 1))
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "calls")
    org.tick(days=3)
    # a call made offline on an iPad ten days ago syncs now, long after the visit date
    late = veeva.call(veeva.reps[1], date(2026, 2, 22))
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "calls", cursor)

    read_now = {i.source_record_id: i.date for i in records(items, FieldInteraction)}
    assert read_now[late] == date(2026, 2, 22)
    assert all(
        "Call_Date_vod__c >" not in q and "Call_Date_vod__c <" not in q for _, _, q in org.log
    )


def test_the_upper_bound_is_frozen_at_run_start_and_later_edits_wait_for_the_next_run(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    first = veeva.call(veeva.reps[0], date(2026, 2, 25))
    org.tick(minutes=1)
    conn = connector(org, config, capabilities)
    read(conn, "users")  # the run starts: upper bound frozen now
    org.tick(seconds=30)
    during = veeva.call(veeva.reps[0], date(2026, 2, 26))  # written while the run goes on

    items, cursor = read(conn, "calls")
    org.tick(minutes=1)
    later, _ = read(connector(org, config, capabilities), "calls", cursor)

    assert [i.source_record_id for i in records(items, FieldInteraction)] == [first]
    assert during in [i.source_record_id for i in records(later, FieldInteraction)]


def test_each_window_looks_back_the_configured_minutes_before_the_watermark(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, object], capabilities: CapabilityMap
) -> None:
    config = make_config(org, str(rsa_key[0]), sync={"lookback_minutes": 15})
    veeva.call(veeva.reps[0], date(2026, 2, 25))
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "calls")  # watermark 08:01:00
    org.tick(hours=1)

    read(connector(org, config, capabilities), "calls", cursor)

    window = _queries(org, "Call2_vod__c")[-1]
    assert "SystemModstamp >= 2026-03-02T07:46:00Z" in window
    assert "SystemModstamp < 2026-03-02T09:01:00Z" in window
    assert "ORDER BY SystemModstamp, Id" in window


def test_a_soft_delete_read_through_queryall_is_a_tombstone(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    call = veeva.call(veeva.reps[0], date(2026, 2, 25))
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "calls")
    org.tick(hours=2)
    org.soft_delete("Call2_vod__c", call)  # in the recycle bin
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "calls", cursor)

    assert Deleted("interaction", call) in items
    assert any(p.endswith("/queryAll/") for _, p, _ in org.log)


def test_a_hard_delete_is_read_from_the_deleted_records_endpoint(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    call = veeva.call(veeva.reps[0], date(2026, 2, 25))
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "calls")
    org.tick(hours=2)
    org.hard_delete("Call2_vod__c", call)  # the recycle bin was emptied: queryAll cannot see it
    org.tick(minutes=5)

    items, cursor = read(connector(org, config, capabilities), "calls", cursor)

    assert Deleted("interaction", call) in items
    deleted_calls = [p for _, p, _ in org.log if p.endswith("/sobjects/Call2_vod__c/deleted/")]
    assert len(deleted_calls) == 1
    assert json.loads(str(cursor))["feeds"]["calls"]["deleted_through"] == "2026-03-02T10:06:00Z"


def test_query_timeout_splits_the_window_until_the_halves_succeed(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "calls")  # nothing yet
    early = veeva.call(veeva.reps[0], date(2026, 3, 5))
    org.tick(days=20)
    late = veeva.call(veeva.reps[0], date(2026, 3, 25))
    org.tick(days=20)
    org.query_timeout_over = timedelta(days=30)  # a 40-day window times out, 20 days do not
    before = len(org.log)

    items, cursor = read(connector(org, config, capabilities), "calls", cursor)

    ids = [i.source_record_id for i in records(items, FieldInteraction)]
    assert ids == [early, late]
    windows = [q for _, _, q in org.log[before:] if "ORDER BY SystemModstamp, Id" in q]
    assert len(windows) == 3  # the timed-out window, then its two halves
    assert "SystemModstamp < 2026-03-22T07:56:00Z" in windows[1]
    assert "SystemModstamp >= 2026-03-22T07:56:00Z" in windows[2]
    state = json.loads(str(cursor))["feeds"]["calls"]
    assert state["watermark"] == org.now.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_expired_query_locator_restarts_the_query_from_the_last_record_read(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    calls = [veeva.call(veeva.reps[0], date(2026, 2, d)) for d in range(1, 8)]
    org.tick(minutes=1)
    seen = []
    for item in connector(org, config, capabilities).read("calls", None):
        if isinstance(item, FieldInteraction):
            seen.append(item.source_record_id)
        if len(seen) == 3:
            org.invalidate_cursors()  # nextRecordsUrl now answers INVALID_QUERY_LOCATOR

    assert seen == calls
    assert f"Id > '{calls[2]}'" in _queries(org, "Call2_vod__c")[-1]


def test_the_window_bound_is_the_orgs_time_not_a_clock_that_runs_ahead(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    """Our clock 10 minutes ahead: the bound comes from the org's Date header, so a call
    modified in those 10 minutes (org time) is read by the next run, not skipped for ever."""
    org.tick(minutes=1)
    fast = connector(org, config, capabilities, ahead=timedelta(minutes=10))
    _, cursor = read(fast, "calls")
    watermark = json.loads(str(cursor))["feeds"]["calls"]["watermark"]
    assert watermark == org.now.strftime("%Y-%m-%dT%H:%M:%SZ")  # the org's now, not ours

    org.tick(minutes=3)
    late = veeva.call(veeva.reps[0], date(2026, 3, 2))  # modified before our clock's "now"
    org.tick(minutes=1)
    items, _ = read(
        connector(org, config, capabilities, ahead=timedelta(minutes=10)), "calls", cursor
    )

    assert late in [i.source_record_id for i in records(items, FieldInteraction)]


def test_an_expired_query_locator_inside_a_lookup_restarts_the_lookup_after_its_last_row(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    """Issue 15 point 1 (a cursor that expires mid-lookup is restarted): the answers of a
    page of reports come back over several pages (3 reports x 3 answers, pages of 3); the
    nextRecordsUrl of that lookup expires, and the lookup goes on after the last answer read
    instead of failing the run."""
    reports = [
        veeva.advanced(
            veeva.reps[d % 3], submitted=f"2026-02-0{d}T10:00:00.000+0000", opening=4, closing="3"
        )
        for d in range(1, 4)
    ]
    org.tick(minutes=1)
    lookup = "FROM Question_Response_vod__c WHERE Survey_Target_vod__c IN ("
    org.expire_locator_of = lookup

    items, _ = read(connector(org, config, capabilities), "advanced_coaching_reports")

    observations = records(items, CoachingObservation)
    assert [o.source_record_id for o in observations] == reports
    assert all(len(o.ratings) == 2 for o in observations)
    assert org.expire_locator_of is None  # the locator did expire
    lookups = [q for _, _, q in org.log if lookup in q]
    assert len(lookups) == 2
    assert "Id > '" in lookups[1]
