"""`file-people`: an HR export becomes effective-dated Person rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from adoptloop.connectors.files.people import PeopleFileConfig, PeopleFileConnector
from adoptloop.domain import Checkpoint, Person, Rejected
from adoptloop.errors import ConfigError
from adoptloop.testing.kit import drain, last_cursor, make_context

RUN_DATE = date(2026, 3, 2)

HEADER = "hr_id,first_name,last_name,email,role,manager_hr_id,region,status,valid_from\n"


def connector(path: Path, **config: object) -> PeopleFileConnector:
    settings = PeopleFileConfig.model_validate({"type": "file-people", "path": path, **config})
    return PeopleFileConnector(settings, make_context(name="hris", run_date=RUN_DATE))


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_each_row_becomes_a_person_located_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "E1,Ada,Rep,Ada@Example.com,rep,M1,North,active,2025-01-01\n"
        "M1,Max,Boss,,manager,,North,Terminated,\n",
    )
    items = drain(connector(path), "people")

    people = [i for i in items if isinstance(i, Person)]
    assert people == [
        Person(
            hr_id="E1",
            valid_from=date(2025, 1, 1),
            first_name="Ada",
            last_name="Rep",
            email="ada@example.com",
            employee_number=None,
            role="rep",
            manager_hr_id="M1",
            region="North",
            country=None,
            territory=None,
            business_unit=None,
            status="active",
            hire_date=None,
            termination_date=None,
        ),
        Person(
            hr_id="M1",
            valid_from=RUN_DATE,  # no valid_from: effective from the run date
            first_name="Max",
            last_name="Boss",
            email=None,
            employee_number=None,
            role="manager",
            manager_hr_id=None,
            region="North",
            country=None,
            territory=None,
            business_unit=None,
            status="terminated",  # an inactive status, whatever its case
            hire_date=None,
            termination_date=None,
        ),
    ]
    assert [p.location for p in people] == ["people.csv:2", "people.csv:3"]
    assert isinstance(items[-1], Checkpoint)


def test_a_bad_row_is_rejected_with_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "E1,Ada,Rep,,rep,,,active,2025-01-01\n"
        "E2,,Rep,,rep,,,active,2025-01-01\n"
        "E3,Cy,Rep,,rep,,,active,01/02/2025\n"
        "E4,Di,Rep,,rep,,,active,2025-01-01\n",
    )
    items = drain(connector(path), "people")

    assert [i.hr_id for i in items if isinstance(i, Person)] == ["E1", "E4"]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [(r.stream, r.record_key, r.location) for r in rejected] == [
        ("people", "E2", "people.csv:3"),
        ("people", "E3", "people.csv:4"),
    ]
    assert rejected[0].reason == "first_name is empty"
    assert rejected[1].reason == "valid_from: '99/99/9999' is not a date (YYYY-MM-DD)"


def test_an_unchanged_file_yields_only_its_checkpoint_the_second_time(tmp_path: Path) -> None:
    path = write(tmp_path, "E1,Ada,Rep,,rep,,,active,2025-01-01\n")
    first = drain(connector(path), "people")
    cursor = last_cursor(first)
    assert cursor is not None

    second = drain(connector(path), "people", cursor)
    assert second == [Checkpoint("people", cursor)]

    path.write_text(path.read_text() + "E2,Bo,Rep,,rep,,,active,2025-01-01\n")
    third = drain(connector(path), "people", cursor)
    assert [i.hr_id for i in third if isinstance(i, Person)] == ["E1", "E2"]  # re-read whole
    assert last_cursor(third) != cursor


def test_a_missing_required_column_stops_the_file_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "E1,Ada,Rep,rep\n", header="hr_id,first_name,last_name,job\n")
    with pytest.raises(ConfigError, match=r"people.csv:1: column 'role' not found; set its name"):
        drain(connector(path), "people")


def test_renamed_columns_are_read_from_the_configured_names(tmp_path: Path) -> None:
    path = write(tmp_path, "7,Ada,Rep,rep\n", header="Employee ID,Given,Family,Role\n")
    columns = {"hr_id": "Employee ID", "first_name": "Given", "last_name": "Family"}
    items = drain(connector(path, columns={**columns, "role": "Role"}), "people")
    assert [(p.hr_id, p.first_name, p.role) for p in items if isinstance(p, Person)] == [
        ("7", "Ada", "rep")
    ]


# --- issue 16, point 2 (inputs): explicit effective-dated rows and the team column ----------

EXPLICIT = (
    "hr_id,first_name,last_name,role,manager_hr_id,region,team,status,hire_date,"
    "termination_date,valid_from,valid_to\n"
)


def _history(tmp_path: Path, body: str) -> list[tuple[str, date, str, str | None, date | None]]:
    """(hr_id, valid_from, status, region, termination_date) of the Person rows yielded."""
    items = drain(connector(write(tmp_path, body, EXPLICIT)), "people")
    assert not [i for i in items if isinstance(i, Rejected)]
    return [
        (p.hr_id, p.valid_from, p.status, p.region, p.termination_date)
        for p in items
        if isinstance(p, Person)
    ]


def test_explicit_rows_with_inclusive_valid_to_continue_without_a_gap(tmp_path: Path) -> None:
    """Issue 16.2: two explicit rows, the first through 2025-06-30 (inclusive), the second from
    2025-07-01: the store gets a row from each start (the first holds until the next starts,
    its exclusive end 2025-07-01 = valid_to + 1), and no gap."""
    history = _history(
        tmp_path,
        "E1,Ada,Rep,rep,M1,North,T1,active,2025-01-01,,2025-01-01,2025-06-30\n"
        "E1,Ada,Rep,rep,M1,South,T2,active,2025-01-01,,2025-07-01,\n",
    )
    assert history == [
        ("E1", date(2025, 1, 1), "active", "North", None),
        ("E1", date(2025, 7, 1), "active", "South", None),
    ]


def test_a_rehire_after_a_gap_keeps_the_gap_as_a_terminated_row(tmp_path: Path) -> None:
    """Issue 16.2: employed 2024-01-01..2024-03-31, rehired 2024-10-01: the day after the last
    day employed starts a `terminated` row (termination_date 2024-03-31) that holds until the
    rehire row; without it the first row would seem to run on until the rehire."""
    history = _history(
        tmp_path,
        "E1,Ada,Rep,rep,M1,North,,active,2024-01-01,,2024-01-01,2024-03-31\n"
        "E1,Ada,Rep,rep,M1,North,,active,2024-10-01,,2024-10-01,\n",
    )
    assert history == [
        ("E1", date(2024, 1, 1), "active", "North", None),
        ("E1", date(2024, 4, 1), "terminated", "North", date(2024, 3, 31)),
        ("E1", date(2024, 10, 1), "active", "North", None),
    ]


def test_a_termination_date_ends_an_open_row_on_its_day(tmp_path: Path) -> None:
    """Issue 16.2: termination_date is the last day employed: an open explicit row with
    termination 2025-05-15 is followed by a terminated row from 2025-05-16."""
    history = _history(
        tmp_path, "E1,Ada,Rep,rep,M1,North,,active,2025-01-01,2025-05-15,2025-01-01,\n"
    )
    assert history == [
        ("E1", date(2025, 1, 1), "active", "North", date(2025, 5, 15)),
        ("E1", date(2025, 5, 16), "terminated", "North", date(2025, 5, 15)),
    ]


def test_overlapping_explicit_rows_the_latest_valid_from_wins(tmp_path: Path) -> None:
    """Issue 16.2: North 2025-01-01..2025-12-31 overlapped by South 2025-03-01..2025-04-30: South
    (the later valid_from) is in effect from 2025-03-01 through 2025-04-30, North again from
    2025-05-01 through 2025-12-31, and the person left after that."""
    history = _history(
        tmp_path,
        "E1,Ada,Rep,rep,M1,North,,active,,,2025-01-01,2025-12-31\n"
        "E1,Ada,Rep,rep,M1,South,,active,,,2025-03-01,2025-04-30\n",
    )
    assert history == [
        ("E1", date(2025, 1, 1), "active", "North", None),
        ("E1", date(2025, 3, 1), "active", "South", None),
        ("E1", date(2025, 5, 1), "active", "North", None),
        ("E1", date(2026, 1, 1), "terminated", "North", date(2025, 12, 31)),
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            "E1,Ada,Rep,rep,M1,North,,active,,,2025-03-01,2025-02-28",
            "valid_to: 2025-02-28 is before valid_from 2025-03-01",
        ),
        (
            "E1,Ada,Rep,rep,M1,North,,active,2025-03-01,2025-02-01,2025-03-01,",
            "termination_date: 2025-02-01 is before hire_date 2025-03-01",
        ),
    ],
)
def test_explicit_rows_that_make_no_sense_are_refused_at_their_line(
    tmp_path: Path, row: str, reason: str
) -> None:
    """Issue 16.2: a row ending before it starts, a termination before the hire: the row is
    quarantined naming file, line and field; the other rows are read."""
    body = "E2,Bo,Rep,rep,M1,North,,active,,,2025-01-01,\n" + row + "\n"
    items = drain(connector(write(tmp_path, body, EXPLICIT)), "people")
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [(r.location, r.record_key) for r in rejected] == [("people.csv:3", "E1")]
    assert rejected[0].reason.startswith(reason)
    assert [p.hr_id for p in items if isinstance(p, Person)] == ["E2"]


def test_the_team_column_is_read_as_its_own_value(tmp_path: Path) -> None:
    """Issue 16.2: `team` is its own column (blank: none), whatever the manager."""
    path = write(
        tmp_path,
        "E1,Ada,Rep,rep,M1,North,Oncology North,active,,,2025-01-01,\n"
        "E2,Bo,Rep,rep,M1,North,,active,,,2025-01-01,\n",
        EXPLICIT,
    )
    people = [p for p in drain(connector(path), "people") if isinstance(p, Person)]
    assert [(p.hr_id, p.team) for p in people] == [("E1", "Oncology North"), ("E2", None)]


def test_the_implicit_form_is_read_as_before(tmp_path: Path) -> None:
    """Issue 16.2: without a valid_to column, rows are yielded one by one as they are: a
    leaver row stays a row of its own, and no gap rows are made."""
    path = write(
        tmp_path,
        "E1,Ada,Rep,,rep,M1,North,active,2025-01-01\n"
        "E1,Ada,Rep,,rep,M1,North,terminated,2025-06-01\n",
    )
    people = [p for p in drain(connector(path), "people") if isinstance(p, Person)]
    assert [(p.valid_from, p.status, p.team) for p in people] == [
        (date(2025, 1, 1), "active", None),
        (date(2025, 6, 1), "terminated", None),
    ]
