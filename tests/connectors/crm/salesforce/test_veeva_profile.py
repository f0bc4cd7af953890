"""The Veeva CRM profile: calls and ride-alongs, standard and advanced coaching reports."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.domain import (
    CoachingObservation,
    Deleted,
    FieldInteraction,
    PersonRef,
    Rejected,
)
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import (
    Pipeline,
    connector,
    make_config,
    raw_ratings,
    read,
    records,
)
from tests.connectors.crm.salesforce.scenario import (
    QUESTION_CLOSING_TEXT,
    QUESTION_NEXT_STEP,
    QUESTION_OPENING,
    Veeva,
    ts,
)

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def test_a_user_attendee_child_call_is_a_ride_along_and_an_hcp_attendee_is_not(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    coached = veeva.call(veeva.reps[0], date(2026, 2, 24))
    veeva.ride_along(coached)
    veeva.hcp_attendee(coached)
    alone = veeva.call(veeva.reps[1], date(2026, 2, 25))
    veeva.hcp_attendee(alone)
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "calls")

    by_id = {i.source_record_id: i for i in records(items, FieldInteraction)}
    assert set(by_id) == {coached, alone}  # child calls are attendees, not visits
    assert by_id[coached].manager == PersonRef("crm", veeva.manager)
    assert by_id[coached].date == date(2026, 2, 24)
    assert (by_id[coached].channel, by_id[coached].type) == ("Face_to_Face_vod", "Detail Only")
    assert by_id[alone].manager is None


def test_a_ride_along_synced_days_later_rebuilds_its_parent_call(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    parent = veeva.call(veeva.reps[0], date(2026, 2, 24))
    org.tick(minutes=1)
    first, cursor = read(connector(org, config, capabilities), "calls")
    org.tick(days=2)
    veeva.ride_along(parent)  # the manager's iPad syncs the attendee two days later
    org.tick(minutes=1)

    later, _ = read(connector(org, config, capabilities), "calls", cursor)

    assert records(first, FieldInteraction)[0].manager is None
    rebuilt = [i for i in records(later, FieldInteraction) if i.source_record_id == parent]
    assert rebuilt
    assert rebuilt[-1].manager == PersonRef("crm", veeva.manager)


def test_only_submitted_calls_are_visits_and_an_unsubmitted_one_leaves_the_store(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    planned = veeva.call(veeva.reps[0], date(2026, 3, 9), status="Planned_vod")
    saved = veeva.call(veeva.reps[0], date(2026, 2, 26), status="Saved_vod")
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "calls")

    assert records(items, FieldInteraction) == []
    assert Deleted("interaction", planned) in items
    assert Deleted("interaction", saved) in items


def test_standard_report_ratings_follow_the_capability_map_and_free_text_is_reduced(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    report = veeva.report(
        veeva.reps[0],
        date(2026, 2, 24),
        Opening_Rating__c=4.0,
        Objection_Handling_Rating__c="3 - Meets",
    )
    draft = veeva.report(veeva.reps[1], date(2026, 2, 25), status="Draft", Opening_Rating__c=2.0)
    config = make_config(
        org,
        str(config.auth.private_key.get_secret_value()),  # type: ignore[union-attr]
        profile={
            "coaching_reports": {
                "fields": {"comments": ["Comments__c"], "next_steps": ["Agreed_Next_Steps__c"]}
            }
        },
    )
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "coaching_reports")

    observations = {o.source_record_id: o for o in records(items, CoachingObservation)}
    seen = observations[report]
    assert (seen.observer, seen.observed) == (
        PersonRef("crm", veeva.manager),
        PersonRef("crm", veeva.reps[0]),
    )
    assert raw_ratings(seen) == [("Objection_Handling_Rating__c", 3.0), ("Opening_Rating__c", 4.0)]
    assert (seen.visit_date, seen.timezone, seen.counted) == (
        date(2026, 2, 24),
        "Europe/Madrid",
        True,
    )
    assert (seen.word_count, seen.names_capability, seen.has_next_step) == (10, True, True)
    assert "practice" not in repr(items)  # the comment itself never leaves the connector
    assert observations[draft].counted is False


def test_a_rating_label_maps_through_rating_values_or_goes_to_quarantine(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    mapped = veeva.report(veeva.reps[0], date(2026, 2, 24), Objection_Handling_Rating__c="Exceeds")
    unmapped = veeva.report(veeva.reps[0], date(2026, 2, 25), Objection_Handling_Rating__c="Superb")
    off_scale = veeva.report(veeva.reps[0], date(2026, 2, 26), Opening_Rating__c=7.0)
    config = make_config(
        org, rsa_key[0], profile={"coaching_reports": {"rating_values": {"Exceeds": 5}}}
    )
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "coaching_reports")

    (ok,) = records(items, CoachingObservation)
    assert ok.source_record_id == mapped
    assert raw_ratings(ok) == [("Objection_Handling_Rating__c", 5.0)]
    reasons = {r.record_key: r.reason for r in records(items, Rejected)}
    assert "map it under rating_values" in reasons[unmapped]
    assert reasons[off_scale] == "rating 7 for Opening_Rating__c is outside its scale 1..5"


def test_advanced_report_answers_map_by_question_id_and_by_question_text(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    report = veeva.advanced(
        veeva.reps[2], submitted=ts(date(2026, 2, 26), hour=23), opening=4, closing="5"
    )
    in_progress = veeva.advanced(
        veeva.reps[2],
        submitted=ts(date(2026, 2, 27)),
        opening=2,
        closing="2",
        status="In_Progress_vod",
    )
    org.insert(  # a plain survey, not a coaching report: ignored
        "Survey_Target_vod__c",
        RecordTypeId=veeva.survey_type,
        Coach_vod__c=veeva.manager,
        Employee_vod__c=veeva.reps[2],
        Report_Status_vod__c="Completed_vod",
    )
    config = make_config(
        org,
        str(config.auth.private_key.get_secret_value()),  # type: ignore[union-attr]
        profile={"advanced_coaching_reports": {"next_step_questions": [QUESTION_NEXT_STEP]}},
    )
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "advanced_coaching_reports")

    observations = {o.source_record_id: o for o in records(items, CoachingObservation)}
    assert set(observations) == {report, in_progress}
    seen = observations[report]
    assert raw_ratings(seen) == [(QUESTION_CLOSING_TEXT, 5.0), (QUESTION_OPENING, 4.0)]
    assert seen.visit_date == date(2026, 2, 27)  # 23:00 UTC is the next day in Madrid
    assert (seen.counted, seen.has_next_step, seen.word_count) == (True, True, 6)
    assert observations[in_progress].counted is False


def test_an_answer_changed_later_rebuilds_its_advanced_report(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    report = veeva.advanced(veeva.reps[0], submitted=ts(date(2026, 2, 26)), opening=3, closing="3")
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "advanced_coaching_reports")
    org.tick(days=1)
    opening_answer = veeva.responses_of(report)[0]
    org.update(
        "Question_Response_vod__c", opening_answer, Number_vod__c=5, Answer_Choice_vod__c="5"
    )
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "advanced_coaching_reports", cursor)

    rebuilt = [o for o in records(items, CoachingObservation) if o.source_record_id == report]
    assert rebuilt
    assert (QUESTION_OPENING, 5.0) in raw_ratings(rebuilt[-1])


def test_a_rating_changed_after_delivery_voids_the_old_statement_and_sends_a_new_one(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    config: SalesforceConfig,
    capabilities: CapabilityMap,
) -> None:
    report = veeva.report(veeva.reps[0], date(2026, 2, 24), Opening_Rating__c=3.0)
    org.tick(minutes=1)
    pipeline = Pipeline(tmp_path, org, config, capabilities)
    pipeline.run()
    before = pipeline.statements()
    org.tick(days=2)
    org.update("Coaching_Report_vod__c", report, Opening_Rating__c=5.0)  # the manager revises
    org.tick(minutes=1)

    pipeline.run()

    added = pipeline.statements()[len(before) :]
    assert len(added) == 2
    void, new = sorted(added, key=lambda s: s["verb"]["id"] != VOIDED)
    old = next(s for s in before if s["verb"]["id"].endswith("/scored"))
    assert void["verb"]["id"] == VOIDED
    assert void["object"] == {"objectType": "StatementRef", "id": old["id"]}
    assert new["result"]["score"]["raw"] == 5.0
    assert old["result"]["score"]["raw"] == 3.0
