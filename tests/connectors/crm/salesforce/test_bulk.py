"""Bulk API 2.0 for large windows (backfills), REST for small ones (deltas)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from adoptloop.domain import Checkpoint, CoachingObservation, FieldInteraction
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import (
    Sleeps,
    connector,
    make_config,
    raw_ratings,
    read,
    records,
)
from tests.connectors.crm.salesforce.scenario import Veeva


def _bulk_config(org: FakeOrg, key: str, **sync: Any) -> Any:
    return make_config(org, key, sync={"bulk_above_rows": 5, "bulk_page_size": 4, **sync})


def test_a_backfill_above_the_row_estimate_uses_bulk_2_and_follows_sforce_locator(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    calls = [veeva.call(veeva.reps[d % 3], date(2026, 1, d)) for d in range(1, 11)]
    veeva.ride_along(calls[0])
    org.soft_delete("Call2_vod__c", calls[-1])
    org.tick(minutes=1)
    sleeps = Sleeps()

    items, cursor = read(
        connector(org, _bulk_config(org, rsa_key[0]), capabilities, sleeps), "calls"
    )

    interactions = {i.source_record_id: i for i in records(items, FieldInteraction)}
    assert set(interactions) == set(calls[:-1])
    assert interactions[calls[0]].manager is not None
    results = [p for _, p, _ in org.log if p.endswith("/results")]
    assert len(results) == 3  # 11 rows in pages of 4: two Sforce-Locator hops
    created = [q for m, p, q in org.log if m == "POST"]
    assert len(created) == 1
    assert sleeps  # polled an InProgress job through the injected sleep
    state = json.loads(str(cursor))["feeds"]["calls"]
    assert state["bulk"] is None
    assert state["window"] is None
    assert state["watermark"]


def test_bulk_rows_keep_their_types_from_describe(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    for day in range(1, 8):
        veeva.report(veeva.reps[0], date(2026, 1, day), Opening_Rating__c=4.0)
    org.tick(minutes=1)

    items, _ = read(connector(org, _bulk_config(org, rsa_key[0]), capabilities), "coaching_reports")

    observations = records(items, CoachingObservation)
    assert len(observations) == 7
    assert all(raw_ratings(o) == [("Opening_Rating__c", 4.0)] for o in observations)
    assert any(p.endswith("/results") for _, p, _ in org.log)


def test_a_nightly_delta_is_read_over_rest_without_counting_it(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = _bulk_config(org, rsa_key[0])
    for day in range(1, 11):
        veeva.call(veeva.reps[0], date(2026, 1, day))
    org.tick(hours=1)  # well before the next window's look-back
    _, cursor = read(connector(org, config, capabilities), "calls")
    org.tick(days=1)
    veeva.call(veeva.reps[0], date(2026, 3, 2))
    org.tick(minutes=1)
    before = len(org.log)

    read(connector(org, config, capabilities), "calls", cursor)

    paths = [p for _, p, _ in org.log[before:]]
    assert not any("/jobs/" in p for p in paths)
    counts = [q for _, _, q in org.log[before:] if "COUNT()" in q]
    assert counts == []  # COUNT() only where a backfill path is a choice


def test_a_long_gap_is_counted_and_a_large_one_read_with_bulk(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = _bulk_config(org, rsa_key[0])
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "calls")
    org.tick(days=10)  # the service was down for ten days
    for day in range(1, 11):
        veeva.call(veeva.reps[0], date(2026, 3, day))
    org.tick(minutes=1)
    before = len(org.log)

    read(connector(org, config, capabilities), "calls", cursor)

    assert [q for _, _, q in org.log[before:] if "COUNT()" in q]
    assert any("/jobs/" in p for _, p, _ in org.log[before:])


def test_a_bulk_read_stopped_by_the_budget_resumes_with_the_same_job_and_locator(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    calls = [veeva.call(veeva.reps[0], date(2026, 1, d)) for d in range(1, 11)]
    org.tick(minutes=1)
    config = _bulk_config(org, rsa_key[0])
    conn = connector(org, config, capabilities)
    first: list[Any] = []
    cursor = None
    for item in conn.read("calls", None):
        if isinstance(item, Checkpoint):
            cursor = item.cursor
            if json.loads(cursor)["feeds"]["calls"]["bulk"][1]:
                break  # stop after the first result page, as the budget would
        else:
            first.append(item)
    job, locator = json.loads(str(cursor))["feeds"]["calls"]["bulk"]
    before = len(org.log)

    rest, _ = read(connector(org, config, capabilities), "calls", cursor)

    assert len([m for m, _, _ in org.log if m == "POST"]) == 1  # no second job
    first_run = [p for _, p, _ in org.log[:before] if p.endswith(f"{job}/results")]
    assert len(first_run) <= 2  # page 1, and page 2 asked for ahead at most
    resumed = [p for _, p, _ in org.log[before:] if p.endswith(f"{job}/results")]
    assert len(resumed) == 2  # from the checkpointed locator: page 2 again, then page 3
    ids = [i.source_record_id for i in records(first + rest, FieldInteraction)]
    assert sorted(ids) == calls
    assert locator


def test_an_expired_bulk_job_falls_back_to_rest_for_the_window(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    calls = [veeva.call(veeva.reps[0], date(2026, 1, d)) for d in range(1, 11)]
    org.tick(minutes=1)
    config = _bulk_config(org, rsa_key[0])
    cursor = next(
        i.cursor
        for i in connector(org, config, capabilities).read("calls", None)
        if isinstance(i, Checkpoint)
    )
    org.expire_jobs()

    items, _ = read(connector(org, config, capabilities), "calls", cursor)

    assert sorted(i.source_record_id for i in records(items, FieldInteraction)) == calls
    assert any("ORDER BY SystemModstamp, Id" in q for _, _, q in org.log)
