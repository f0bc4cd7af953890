"""The `file-people` connector: the HR export as effective-dated Person rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from adoptloop.connectors.files.people import PeopleFileConnector
from adoptloop.domain import Checkpoint, Person, Rejected
from tests.connectors.files.support import RUN_DATE, build, cursor_of, read, write

HEADER = "hr_id,first_name,last_name,email,role,manager_hr_id,region,status,valid_from\n"


def test_each_row_becomes_a_person_located_at_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "people.csv",
        HEADER
        + "E1,Ana,Silva,Ana@Example.com,rep,M1,North,active,2026-01-01\n"
        + "E2,Bo,Berg,,rep,,South,Leaver,\n",
    )
    items = read(
        build(PeopleFileConnector, tmp_path, type="file-people", path="people.csv"), "people"
    )

    ana, bo = [i for i in items if isinstance(i, Person)]
    assert (ana.hr_id, ana.email, ana.manager_hr_id, ana.region) == (
        "E1",
        "ana@example.com",
        "M1",
        "North",
    )
    assert (ana.valid_from, ana.status, ana.location) == (
        date(2026, 1, 1),
        "active",
        "people.csv:2",
    )
    # no valid_from: effective from the run date; "Leaver" is one of the inactive statuses
    assert (bo.email, bo.manager_hr_id, bo.valid_from, bo.status) == (
        None,
        None,
        RUN_DATE,
        "terminated",
    )
    assert isinstance(items[-1], Checkpoint)


def test_a_bad_row_is_rejected_with_its_line_and_the_rest_is_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        "people.csv",
        HEADER
        + "E1,Ana,Silva,a@x.io,rep,,North,active,2026-13-40\n"
        + "E2,Bo,Berg,b@x.io,rep,,North,active,2026-02-01\n",
    )
    items = read(
        build(PeopleFileConnector, tmp_path, type="file-people", path="people.csv"), "people"
    )

    (rejected,) = [i for i in items if isinstance(i, Rejected)]
    assert (rejected.record_key, rejected.location) == ("E1", "people.csv:2")
    assert "valid_from" in rejected.reason
    assert [p.hr_id for p in items if isinstance(p, Person)] == ["E2"]


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", HEADER + "E1,Ana,Silva,a@x.io,rep,,North,active,\n")
    connector = build(PeopleFileConnector, tmp_path, type="file-people", path="people.csv")
    cursor = cursor_of(read(connector, "people"))

    again = read(connector, "people", cursor)
    assert again == [Checkpoint("people", cursor)]

    path.write_text(path.read_text() + "E2,Bo,Berg,b@x.io,rep,,North,active,\n", encoding="utf-8")
    changed = read(connector, "people", cursor)
    assert [p.hr_id for p in changed if isinstance(p, Person)] == ["E1", "E2"]  # re-read whole
    assert cursor_of(changed) != cursor
