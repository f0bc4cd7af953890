"""Issue 15 point 1 (Salesforce API economy): describes cached per schema version with
If-Modified-Since, COUNT() only when choosing a backfill path, every object's delete log read,
and an unchanged incremental run within 10 API calls; every record transferred once per
backfill."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adoptloop.errors import ConfigError
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import Pipeline, make_config
from tests.connectors.crm.salesforce.scenario import Veeva, ts


def _work(veeva: Veeva) -> dict[str, list[str]]:
    """Three weeks of calls with ride-alongs, standard and advanced coaching reports."""
    made: dict[str, list[str]] = {"calls": [], "reports": [], "advanced": []}
    for day in range(1, 22):
        rep = veeva.reps[day % 3]
        call = veeva.call(rep, date(2026, 2, day))
        made["calls"].append(call)
        if day % 3 == 0:
            veeva.ride_along(call)
            veeva.hcp_attendee(call)
        if day % 4 == 0:
            made["reports"].append(
                veeva.report(rep, date(2026, 2, day), Opening_Rating__c=float(day % 5 + 1))
            )
        if day % 5 == 0:
            made["advanced"].append(
                veeva.advanced(rep, submitted=ts(date(2026, 2, day)), opening=4, closing="3")
            )
        veeva.org.tick(hours=5)
    veeva.org.tick(minutes=5)
    return made


def _endpoint(method: str, path: str) -> str:
    """What a request to the org was for: the resource, without ids."""
    parts = path.split("/")
    if "oauth2" in parts:
        return "login"
    tail = "/".join(parts[4:])  # after /services/data/vXX.X/
    if tail in ("sobjects", "sobjects/"):
        return "describe-global"
    if tail.endswith("/describe"):
        return "describe"
    if tail.endswith("/deleted/"):
        return "deleted " + parts[-3]
    if tail.startswith(("query/", "queryAll/")) and tail.count("/") and len(tail) > 10:
        return "query (next page)"
    return f"{method} {tail.split('/')[0]}"


def _spent(org: FakeOrg, since: int) -> Counter[str]:
    return Counter(_endpoint(m, p) for m, p in org.requests[since:])


def test_an_unchanged_incremental_run_makes_at_most_10_api_calls_and_changes_nothing(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    """Point 1 (d): a backfill, then a night with nothing changed in the org: one
    describe-global answered 304, one window query per object, one delete-log read per
    deletable object (User has none): 10 API calls, plus the OAuth token request."""
    _work(veeva)
    config = make_config(org, rsa_key[0], sync={"bulk_above_rows": 20})
    pipeline = Pipeline(tmp_path, org, config, capabilities)
    pipeline.run()
    live, standing = pipeline.live(), pipeline.standing()
    org.tick(days=1)
    before, logged, used = len(org.requests), len(org.log), org.api_used

    pipeline.run()

    spent = _spent(org, before)
    assert org.api_used - used == sum(spent.values()) - spent["login"] <= 10, spent
    assert spent["login"] == 1
    assert spent["describe-global"] == 1
    assert spent["describe"] == 0
    assert not [q for _, _, q in org.log[logged:] if "COUNT()" in q]  # point 1 (b)
    deletable = ("Call2_vod__c", "Coaching_Report_vod__c", "Survey_Target_vod__c")
    for sobject in (*deletable, "Question_Response_vod__c"):  # point 1 (c)
        assert spent[f"deleted {sobject}"] == 1
    assert pipeline.live() == live
    assert pipeline.standing() == standing


def test_a_field_removed_after_the_describes_were_kept_stops_the_run_naming_it(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    config: Any,
    capabilities: CapabilityMap,
) -> None:
    """Point 1 (a): the kept describes are re-checked when Salesforce says the schema
    changed; a configured field gone is the same ConfigError as without a cache."""
    _work(veeva)
    pipeline = Pipeline(tmp_path, org, config, capabilities)
    pipeline.run()
    org.tick(days=1)
    org.drop_field("Call2_vod__c", "Territory_vod__c")
    org.tick(minutes=1)

    with pytest.raises(ConfigError) as raised:
        pipeline.run()

    assert raised.value.problems == [
        "sources.crm.profile.calls.fields.territory: Call2_vod__c.Territory_vod__c is not a "
        "field of Call2_vod__c (check the API name, and that the integration user's "
        "field-level security lets it read the field)"
    ]


def test_a_metadata_change_elsewhere_asks_each_object_and_keeps_what_did_not_change(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    config: Any,
    capabilities: CapabilityMap,
) -> None:
    """Point 1 (a): describe-global says something changed (here a new field on the
    standard coaching report): each object is asked with If-Modified-Since, the unchanged
    ones answer 304, and the next run is back to one describe-global call."""
    _work(veeva)
    pipeline = Pipeline(tmp_path, org, config, capabilities)
    pipeline.run()
    org.tick(days=1)
    org.change_metadata("Coaching_Report_vod__c")
    org.tick(minutes=1)
    before = len(org.requests)

    pipeline.run()

    spent = _spent(org, before)
    assert (spent["describe-global"], spent["describe"]) == (1, 5)
    org.tick(days=1)
    before = len(org.requests)
    pipeline.run()
    spent = _spent(org, before)
    assert (spent["describe-global"], spent["describe"]) == (1, 0)


@pytest.mark.parametrize("bulk_above_rows", [None, 20])
def test_a_backfill_transfers_every_record_once(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
    bulk_above_rows: int | None,
) -> None:
    """Point 2: survey answers came three times (the answers' own window, and the lookups of
    their report from both the reports' and the answers' pages) and reports twice; child
    calls twice. Now each record is sent at most once (HCP attendee calls not at all)."""
    made = _work(veeva)
    config = make_config(org, rsa_key[0], sync={"bulk_above_rows": bulk_above_rows})
    pipeline = Pipeline(tmp_path, org, config, capabilities)

    pipeline.run()

    rows = {name: len(table) for name, table in org.tables.items()}
    sent = org.transferred
    for sobject in ("User", "Coaching_Report_vod__c", "Survey_Target_vod__c"):
        assert sent[sobject] == rows[sobject], sobject
    assert sent["Question_Response_vod__c"] == rows["Question_Response_vod__c"]
    assert rows["Question_Response_vod__c"] == 3 * len(made["advanced"])
    calls = org.tables["Call2_vod__c"].values()
    wanted_calls = [c for c in calls if c["Attendee_Type_vod__c"] != "Person_Account_vod"]
    assert sent["Call2_vod__c"] == len(wanted_calls)
    live = pipeline.live()
    assert len(live["interactions"]) == len(made["calls"])
    assert sum(1 for i in live["interactions"] if i["manager_hr_id"]) == 7
    rated = {r["record_id"] for r in live["ratings"]}
    assert set(made["advanced"]) <= rated


def test_a_hard_deleted_survey_answer_removes_its_rating(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    config: Any,
    capabilities: CapabilityMap,
) -> None:
    """Point 1 (c): the Question_Response delete log was read and ignored; an answer deleted
    past the recycle bin cannot be traced to its report, so the reports are rebuilt from the
    answers that remain and the deleted answer's rating goes."""
    made = _work(veeva)
    pipeline = Pipeline(tmp_path, org, config, capabilities)
    pipeline.run()
    report = made["advanced"][0]
    opening = next(
        rid
        for rid in veeva.responses_of(report)
        if org.tables["Question_Response_vod__c"][rid]["Number_vod__c"] is not None
    )
    assert ("a2Q5g00000QOPEN001", report) in _ratings(pipeline)
    org.tick(days=1)
    org.hard_delete("Question_Response_vod__c", opening)
    org.tick(minutes=5)

    pipeline.run()

    assert ("a2Q5g00000QOPEN001", report) not in _ratings(pipeline)
    assert ("Closing: rating", report) in _ratings(pipeline)
    others = {(i, r) for i, r in _ratings(pipeline) if r != report}
    assert len(others) == 2 * (len(made["advanced"]) - 1) + len(made["reports"])


def test_a_report_deleted_with_its_answers_is_not_a_reason_to_read_every_report(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    config: Any,
    capabilities: CapabilityMap,
) -> None:
    """Point 1 (c): answers that went in the same deletion as their report (a cascade) need
    no rebuild: the report's tombstone covers them."""
    made = _work(veeva)
    pipeline = Pipeline(tmp_path, org, config, capabilities)
    pipeline.run()
    report = made["advanced"][1]
    org.tick(days=1)
    answers = veeva.responses_of(report)
    org.hard_delete("Survey_Target_vod__c", report)
    for answer in answers:
        org.hard_delete("Question_Response_vod__c", answer)
    org.tick(minutes=5)
    logged = len(org.log)

    pipeline.run()

    assert report not in {o["record_id"] for o in pipeline.live()["observations"]}
    reads = [q for _, _, q in org.log[logged:] if "FROM Survey_Target_vod__c" in q]
    assert len(reads) == 1  # the nightly window only


def _ratings(pipeline: Pipeline) -> set[tuple[str, str]]:
    return {(r["item"], r["record_id"]) for r in pipeline.live()["ratings"]}
