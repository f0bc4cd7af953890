"""The generic profile: Events and EventRelations for visits and co-visits, and a custom
coaching report object configured like Veeva's standard one."""

from __future__ import annotations

from datetime import date
from typing import Any

from adoptloop.domain import CoachingObservation, Deleted, FieldInteraction, PersonRef
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import (
    connector,
    make_config,
    raw_ratings,
    read,
    records,
)
from tests.connectors.crm.salesforce.scenario import Veeva


def _generic(org: FakeOrg, key: str, **profile: Any) -> Any:
    return make_config(org, key, profile={"type": "generic", **profile})


def _event(org: FakeOrg, rep: str, day: date, **extra: Any) -> str:
    return org.insert(
        "Event",
        OwnerId=rep,
        Subject="Visit Dr. Example",  # free text: never selected
        ActivityDate=day.isoformat(),
        ActivityDateTime=f"{day.isoformat()}T09:00:00.000+0000",
        Type="Meeting",
        IsChild=False,
        **extra,
    )


def test_an_event_with_an_invited_user_is_a_co_visit(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    coached = _event(org, veeva.reps[0], date(2026, 2, 24))
    org.insert(
        "EventRelation",
        EventId=coached,
        RelationId=veeva.manager,
        IsInvitee=True,
        Status="Accepted",
    )
    org.insert(
        "EventRelation", EventId=coached, RelationId="0035g00000CONT0AAA", IsInvitee=True
    )  # a contact
    alone = _event(org, veeva.reps[1], date(2026, 2, 25))
    org.tick(minutes=1)

    items, _ = read(connector(org, _generic(org, rsa_key[0]), capabilities), "visits")

    by_id = {i.source_record_id: i for i in records(items, FieldInteraction)}
    assert by_id[coached].manager == PersonRef("crm", veeva.manager)
    assert by_id[alone].manager is None
    assert by_id[coached].type == "Meeting"
    assert "Subject" not in " ".join(q for _, _, q in org.log)


def test_an_invitation_added_later_rebuilds_the_event_and_a_deleted_event_is_a_tombstone(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = _generic(org, rsa_key[0])
    visit = _event(org, veeva.reps[0], date(2026, 2, 24))
    gone = _event(org, veeva.reps[0], date(2026, 2, 25))
    org.tick(minutes=1)
    _, cursor = read(connector(org, config, capabilities), "visits")
    org.tick(days=1)
    org.insert("EventRelation", EventId=visit, RelationId=veeva.manager, IsInvitee=True)
    org.soft_delete("Event", gone)
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "visits", cursor)

    rebuilt = [i for i in records(items, FieldInteraction) if i.source_record_id == visit]
    assert rebuilt
    assert rebuilt[-1].manager == PersonRef("crm", veeva.manager)
    assert Deleted("interaction", gone) in items


def test_a_custom_coaching_report_object_is_read_with_configured_fields(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    report = veeva.report(veeva.reps[0], date(2026, 2, 24), Opening_Rating__c=5.0)
    config = _generic(
        org,
        rsa_key[0],
        visits=None,
        coaching_reports={
            "object": "Coaching_Report_vod__c",
            "fields": {"ratings": ["Opening_Rating__c"]},
        },
    )
    org.tick(minutes=1)
    conn = connector(org, config, capabilities)

    items, _ = read(conn, "coaching_reports")

    assert conn.streams() == ("users", "coaching_reports")
    (observation,) = records(items, CoachingObservation)
    assert observation.source_record_id == report
    assert raw_ratings(observation) == [("Opening_Rating__c", 5.0)]
