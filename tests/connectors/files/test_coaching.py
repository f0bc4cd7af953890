"""`file-coaching`: coaching reports (ratings as columns or in their own file), users,
development actions and calls become domain records; ratings are scaled once, here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from adoptloop.connectors.files.coaching import CoachingFileConfig, CoachingFileConnector
from adoptloop.domain import (
    Account,
    Checkpoint,
    CoachingObservation,
    DevelopmentAction,
    FieldInteraction,
    PersonRef,
    Rating,
    Rejected,
)
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile
from adoptloop.testing.kit import drain, last_cursor, make_context

RUN_DATE = date(2026, 6, 30)  # the exports' dates are before it

CAPABILITIES = CapabilityMap(
    CapabilityMapFile.model_validate(
        {
            "scales": {"five": {"min": 1, "max": 5}},
            "capabilities": [
                {"id": "objection-handling", "name": "Objection handling", "threshold": 0.75}
            ],
            "coaching_items": {
                "Objections__c": {"capability": "objection-handling", "scale": "five"}
            },
        }
    )
)

REPORTS = (
    "Id,Manager_vod__c,Employee_vod__c,Review_Date__c,Status__c,Submitted_DateTime__c,"
    "SystemModstamp,Comments__c,Agreed_Next_Steps__c,Objections__c,Unmapped__c\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def connector(**config: Any) -> CoachingFileConnector:
    settings = CoachingFileConfig.model_validate(
        {"type": "file-coaching", "timezone": "Europe/Berlin", **config}
    )
    return CoachingFileConnector(
        settings, make_context(CAPABILITIES, name="crm", run_date=RUN_DATE)
    )


def test_a_report_becomes_an_observation_with_its_mapped_ratings_scaled(tmp_path: Path) -> None:
    reports = write(
        tmp_path,
        "reports.csv",
        REPORTS + "R1,005M,005E,2026-02-03,Submitted,2026-02-04T08:00:00Z,2026-02-04T08:00:05Z,"
        "Worked on objection handling with two doctors,Practise the reframe,4,5\n",
    )
    items = drain(connector(reports={"path": reports}), "reports")

    observations = [i for i in items if isinstance(i, CoachingObservation)]
    assert observations == [
        CoachingObservation(
            source_record_id="R1",
            observer=PersonRef("crm", "005M"),
            observed=PersonRef("crm", "005E"),
            visit_date=date(2026, 2, 3),
            timezone="Europe/Berlin",
            status="Submitted",
            counted=True,
            submitted_at=datetime(2026, 2, 4, 8, 0, tzinfo=UTC),
            modified_at=datetime(2026, 2, 4, 8, 0, 5, tzinfo=UTC),
            ratings=(Rating("Objections__c", "objection-handling", 4.0, 1.0, 5.0, 0.75),),
            has_next_step=True,
            names_capability=True,
            word_count=7,
        )
    ]
    assert observations[0].location == "reports.csv:2"
    assert isinstance(items[-1], Checkpoint)


def test_ratings_kept_one_row_each_in_their_own_file_are_joined_to_their_report(
    tmp_path: Path,
) -> None:
    reports = write(tmp_path, "reports.csv", REPORTS + "R1,005M,005E,2026-02-03,Draft,,,,,,\n")
    ratings = write(
        tmp_path,
        "ratings.csv",
        "Coaching_Report__c,Item__c,Value__c\nR1,Objections__c,2\nR1,Unmapped__c,5\n",
    )
    items = drain(connector(reports={"path": reports, "ratings": {"path": ratings}}), "reports")

    [observation] = [i for i in items if isinstance(i, CoachingObservation)]
    assert observation.ratings == (Rating("Objections__c", "objection-handling", 2.0, 1, 5, 0.25),)
    assert observation.counted is False  # a draft is read, but does not count
    assert observation.has_next_step is False
    assert observation.word_count == 0


def test_bad_report_rows_are_rejected_with_file_and_line_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    reports = write(
        tmp_path,
        "reports.csv",
        REPORTS + "R1,005M,005E,2026-02-03,Submitted,,,,,4,\n"
        "R2,005M,005E,2026-02-03,Submitted,,,,,9,\n"
        "R3,005M,,2026-02-03,Submitted,,,,,,\n"
        "R4,005M,005E,03.02.2026,Submitted,,,,,,\n"
        "R5,005M,005E,2026-02-05,Submitted,,,,,5,\n",
    )
    items = drain(connector(reports={"path": reports}), "reports")

    kept = [i.source_record_id for i in items if isinstance(i, CoachingObservation)]
    assert kept == ["R1", "R5"]
    rejected = [(r.record_key, r.location, r.reason) for r in items if isinstance(r, Rejected)]
    assert rejected == [
        ("R2", "reports.csv:3", "rating 9 for Objections__c is outside its scale 1..5"),
        ("R3", "reports.csv:4", "Employee_vod__c is empty"),
        ("R4", "reports.csv:5", "Review_Date__c: '99.99.9999' is not a date (YYYY-MM-DD)"),
    ]


def test_an_unchanged_reports_file_yields_only_its_checkpoint_the_second_time(
    tmp_path: Path,
) -> None:
    reports = write(tmp_path, "reports.csv", REPORTS + "R1,005M,005E,2026-02-03,Submitted,,,,,4,\n")
    ratings = write(tmp_path, "ratings.csv", "Coaching_Report__c,Item__c,Value__c\n")
    config = {"reports": {"path": reports, "ratings": {"path": ratings}}}
    cursor = last_cursor(drain(connector(**config), "reports"))
    assert cursor is not None

    assert drain(connector(**config), "reports", cursor) == [Checkpoint("reports", cursor)]

    ratings.write_text(ratings.read_text() + "R1,Objections__c,5\n")  # only the ratings changed
    again = drain(connector(**config), "reports", cursor)
    [observation] = [i for i in again if isinstance(i, CoachingObservation)]
    assert [r.raw for r in observation.ratings] == [5.0]
    assert last_cursor(again) != cursor


def test_users_actions_and_calls_files_become_their_records(tmp_path: Path) -> None:
    reports = write(tmp_path, "reports.csv", REPORTS)
    users = write(
        tmp_path,
        "users.csv",
        "Id,IsActive,FederationIdentifier,Email\n005E,true,E1,ada@example.com\n005X,false,,\n",
    )
    actions = write(
        tmp_path,
        "actions.csv",
        "Id,Coaching_Report__c,Employee_vod__c,Capability__c,Agreed_Date__c,Due_Date__c,"
        "Completed_Date__c,Status__c\n"
        "A1,R1,005E,objection-handling,2026-02-03,2026-03-01,,In Progress\n"
        "A2,R1,005E,closing,2026-02-03,,,Open\n"
        "A3,R1,005E,objection-handling,2026-02-03,,,Parked\n",
    )
    calls = write(
        tmp_path,
        "calls.csv",
        "Id,OwnerId,Call_Date_vod__c,Call_Channel_vod__c,Call_Type_vod__c,Status_vod__c,"
        "Ride_Along_User_vod__c\n"
        "K1,005E,2026-02-03,Face_to_face_vod,Detail Only,Submitted_vod,005M\n"
        "K2,005E,2026-02-04,,,,\n",
    )
    conn = connector(
        reports={"path": reports},
        users={"path": users},
        actions={"path": actions},
        calls={"path": calls},
    )
    assert conn.streams() == ("users", "reports", "actions", "calls")

    accounts = [i for i in drain(conn, "users") if isinstance(i, Account)]
    assert accounts == [
        Account(
            PersonRef("crm", "005E", {"FederationIdentifier": "E1", "Email": "ada@example.com"}),
            True,
        ),
        Account(PersonRef("crm", "005X", {}), False),
    ]

    action_items = drain(conn, "actions")
    assert [i for i in action_items if isinstance(i, DevelopmentAction)] == [
        DevelopmentAction(
            source_record_id="A1",
            person=PersonRef("crm", "005E"),
            capability_id="objection-handling",
            agreed_on=date(2026, 2, 3),
            due_on=date(2026, 3, 1),
            completed_on=None,
            status="open",
            observation_record_id="R1",
        )
    ]
    assert [
        (r.record_key, r.location, r.reason) for r in action_items if isinstance(r, Rejected)
    ] == [
        ("A2", "actions.csv:3", "Capability__c: 'aaaaaaa' is not a capability of the map"),
        ("A3", "actions.csv:4", "Status__c: 'aaaaaa' is not open/completed/cancelled"),
    ]

    assert [i for i in drain(conn, "calls") if isinstance(i, FieldInteraction)] == [
        FieldInteraction(
            source_record_id="K1",
            rep=PersonRef("crm", "005E"),
            date=date(2026, 2, 3),
            channel="Face_to_face_vod",
            type="Detail Only",
            status="Submitted_vod",
            manager=PersonRef("crm", "005M"),
        ),
        FieldInteraction(
            source_record_id="K2",
            rep=PersonRef("crm", "005E"),
            date=date(2026, 2, 4),
            channel=None,
            type=None,
            status=None,
            manager=None,
        ),
    ]
