"""Issue 15, point 1 (Salesforce): a full resync (`adoptloop reset crm`, then a run) reads the
org from the start and compares ids with it. Records the store holds that the org no longer
has, with no delete record left (purged past the delete log's retention), are deleted and
their statements voided; the rest is untouched. Only a complete full read deletes: one the API
budget stops deletes nothing, and the comparison happens when a later run completes it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.pipeline.reset import reset_source
from adoptloop.store import quarantine, schema
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import SOURCE, Pipeline, make_config
from tests.connectors.crm.salesforce.scenario import Veeva, ts


def _org_of_a_month(veeva: Veeva) -> dict[str, list[str]]:
    """Calls (some with a ride-along), standard and advanced coaching reports, over February."""
    made: dict[str, list[str]] = {"calls": [], "reports": [], "advanced": []}
    for day in range(2, 26):
        rep = veeva.reps[day % 3]
        call = veeva.call(rep, date(2026, 2, day))
        made["calls"].append(call)
        if day % 4 == 0:
            veeva.ride_along(call)
        if day % 3 == 0:
            made["reports"].append(
                veeva.report(rep, date(2026, 2, day), Opening_Rating__c=day % 5 + 1)
            )
        if day % 6 == 0:
            made["advanced"].append(
                veeva.advanced(rep, submitted=ts(date(2026, 2, day)), opening=4, closing="3")
            )
        veeva.org.tick(minutes=7)
    return made


def _live_ids(pipeline: Pipeline, table: str) -> set[str]:
    t = schema.metadata.tables[table]
    with pipeline.engine.connect() as conn:
        return set(
            conn.execute(
                select(t.c.record_id).where((t.c.source == SOURCE) & t.c.deleted.is_(False))
            ).scalars()
        )


def _standing_of(standing: dict[str, dict[str, Any]], record_id: str) -> dict[str, Any]:
    return {key: body for key, body in standing.items() if record_id in key}


def _reset(pipeline: Pipeline) -> None:
    assert reset_source(pipeline.engine, SOURCE, lease_seconds=60) > 0


def test_full_resync_voids_what_vanished_from_the_org_without_a_delete_record(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    """Point 1: `reset crm` + a run compares ids with the org and voids the vanished."""
    made = _org_of_a_month(veeva)
    pipeline = Pipeline(tmp_path, org, make_config(org, rsa_key[0]), capabilities)
    pipeline.run()
    before = pipeline.standing()
    gone_call, gone_report = made["calls"][4], made["reports"][2]
    assert _standing_of(before, gone_report)  # (calls feed the metrics, not statements)
    org.tick(days=40)  # long past the delete log's 15 days: no delete record is left
    org.purge("Call2_vod__c", gone_call)
    org.purge("Coaching_Report_vod__c", gone_report)
    org.tick(minutes=5)
    pipeline.run()  # an incremental run cannot know: nothing changed, nothing is listed deleted
    assert gone_call in _live_ids(pipeline, "interactions")
    assert pipeline.standing() == before

    _reset(pipeline)
    pipeline.run()

    assert gone_call not in _live_ids(pipeline, "interactions")
    assert gone_report not in _live_ids(pipeline, "observations")
    after = pipeline.standing()
    vanished = _standing_of(before, gone_report)
    assert not set(vanished) & set(after)  # voided
    assert after == {k: v for k, v in before.items() if k not in vanished}  # the rest untouched
    voids = [
        s for s in pipeline.statements() if s["verb"]["id"].endswith("/voided") and s["object"]
    ]
    voided_ids = {s["object"]["id"] for s in voids}
    emitted = schema.emitted
    with pipeline.engine.connect() as conn:
        ids_of_vanished = set(
            conn.execute(
                select(emitted.c.statement_id).where(emitted.c.key.in_(list(vanished)))
            ).scalars()
        )
    assert ids_of_vanished <= voided_ids
    # the advanced reports (another object, the same kind of record) were compared with their
    # own object only: none of them is touched
    assert set(made["advanced"]) <= _live_ids(pipeline, "observations")


def test_a_full_resync_stopped_by_the_api_budget_deletes_nothing_until_it_completes(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    """Point 1, budget stop: the resync's comparison waits for the full read to complete,
    across runs, and then voids only what vanished."""
    made = _org_of_a_month(veeva)
    thrifty = make_config(org, rsa_key[0], sync={"max_api_share": 0.2})
    pipeline = Pipeline(tmp_path, org, thrifty, capabilities)
    pipeline.run()
    while pipeline.last is not None and pipeline.last.stopped is not None:  # the backfill
        org.tick(days=1)
        org.api_used = 0
        pipeline.run()
    before = pipeline.standing()
    live_calls = _live_ids(pipeline, "interactions")
    gone = [made["calls"][1], made["calls"][20]]  # one read early by a resync, one late
    gone_report = made["reports"][-1]
    org.tick(days=40)
    for call in gone:
        org.purge("Call2_vod__c", call)
    org.purge("Coaching_Report_vod__c", gone_report)
    _reset(pipeline)
    org.api_limit, org.api_used = 100, 0  # 20 calls a day

    pipeline.run()

    assert pipeline.last is not None
    assert pipeline.last.stopped is not None
    assert _live_ids(pipeline, "interactions") == live_calls  # stopped: nothing deleted
    assert pipeline.standing() == before
    runs = 1
    while pipeline.last is not None and pipeline.last.stopped is not None:
        org.tick(days=1)
        org.api_used = 0
        pipeline.run()
        runs += 1
        if pipeline.last is not None and pipeline.last.stopped is not None:
            # still reading: what this run read and what it did not are both left alone
            assert _live_ids(pipeline, "interactions") >= live_calls - set(gone)
    assert runs > 1
    assert _live_ids(pipeline, "interactions") == live_calls - set(gone)
    assert gone_report not in _live_ids(pipeline, "observations")
    after = pipeline.standing()
    vanished = _standing_of(before, gone_report)
    assert vanished
    assert after == {k: v for k, v in before.items() if k not in vanished}


def test_a_parked_record_that_vanished_is_dropped_and_never_comes_back(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    """Point 1, parked records: a coaching report of a user no HR record matches waits; it
    vanishes from the org; after `quarantine retry` the stream is read in full, the report is
    dropped, and fixing the user later brings nothing back."""
    _org_of_a_month(veeva)
    waiting = veeva.report(veeva.stranger, date(2026, 2, 27), Opening_Rating__c=5)
    org.tick(minutes=3)
    pipeline = Pipeline(tmp_path, org, make_config(org, rsa_key[0]), capabilities)
    pipeline.run()
    parked = schema.parked
    with pipeline.engine.connect() as conn:
        assert waiting in conn.execute(select(parked.c.record_key)).scalars().all()
    org.tick(days=40)
    org.purge("Coaching_Report_vod__c", waiting)
    with pipeline.engine.begin() as conn:  # `adoptloop quarantine retry --source crm`
        plan = quarantine.retry_plan(conn, source=SOURCE, stream=None)
        quarantine.apply_retry(conn, plan)
    assert (SOURCE, "coaching_reports") in plan.streams

    pipeline.run()
    with pipeline.engine.connect() as conn:
        assert waiting not in conn.execute(select(parked.c.record_key)).scalars().all()
    # the user is fixed in the org (now matches an HR person): nothing waits for them any more
    org.update("User", veeva.stranger, FederationIdentifier="E10012")
    org.tick(minutes=3)
    pipeline.run()

    assert waiting not in _live_ids(pipeline, "observations")
    assert not _standing_of(pipeline.standing(), waiting)
