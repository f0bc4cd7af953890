"""The `file-coaching` connector: coaching reports with their ratings scaled at pull."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from adoptloop.connectors.files.coaching import CoachingFileConnector
from adoptloop.domain import CoachingObservation, Rating, Rejected
from tests.connectors.files.support import build, read, write

HEADER = (
    "Id,Manager_vod__c,Employee_vod__c,Review_Date__c,Status__c,Submitted_DateTime__c,"
    "SystemModstamp,Comments__c,Agreed_Next_Steps__c,Opening_Rating__c,Closing_Rating__c\n"
)


def _connector(folder: Path) -> CoachingFileConnector:
    connector = build(
        CoachingFileConnector,
        folder,
        type="file-coaching",
        timezone="Europe/London",
        reports={"path": "reports.csv"},
    )
    assert isinstance(connector, CoachingFileConnector)
    return connector


def test_a_report_becomes_an_observation_whose_ratings_are_scaled_and_text_dropped(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "reports.csv",
        HEADER
        + "R1,005M,005R,2026-03-02,Submitted,2026-03-03T09:00:00Z,2026-03-03T09:00:00Z,"
        + "Great opening the call today,Practise closing,4,\n",
    )
    (observation,) = [
        i for i in read(_connector(tmp_path), "reports") if isinstance(i, CoachingObservation)
    ]

    assert observation.ratings == (Rating("Opening_Rating__c", "opening", 4.0, 1.0, 5.0, 0.75),)
    assert (observation.visit_date, observation.timezone, observation.counted) == (
        date(2026, 3, 2),
        "Europe/London",
        True,
    )
    assert (observation.word_count, observation.names_capability, observation.has_next_step) == (
        5,
        True,
        True,
    )
    assert "Great" not in repr(observation)  # the free text itself never leaves the connector


def test_a_rating_off_its_scale_rejects_the_report_with_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "reports.csv",
        HEADER
        + "R1,005M,005R,2026-03-02,Submitted,,,,,7,\n"
        + "R2,005M,005R,2026-03-02,Draft,,,,,3,2\n",
    )
    items = read(_connector(tmp_path), "reports")

    (rejected,) = [i for i in items if isinstance(i, Rejected)]
    assert (rejected.record_key, rejected.location) == ("R1", "reports.csv:2")
    assert "outside its scale 1..5" in rejected.reason
    (draft,) = [i for i in items if isinstance(i, CoachingObservation)]
    assert (draft.source_record_id, draft.counted) == ("R2", False)  # read, but never counted
