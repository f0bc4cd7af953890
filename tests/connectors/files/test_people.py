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
