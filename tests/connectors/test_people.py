"""connectors/people.py: the HR row every HRIS connector yields is built one way."""

from __future__ import annotations

from datetime import date

from adoptloop.connectors.people import hr_row


def test_blank_values_are_none_emails_lower_case_and_active_decides_the_status() -> None:
    person = hr_row(
        hr_id="E1",
        valid_from=date(2026, 1, 1),
        first_name="Ana",
        last_name="Silva",
        role="rep",
        active=False,
        email="  Ana.Silva@Example.COM ",
        employee_number="",
        region="   ",
        territory="North-1",
        termination_date=date(2026, 5, 31),
        location="people.csv:2",
    )

    assert person.email == "ana.silva@example.com"
    assert (person.employee_number, person.region, person.country) == (None, None, None)
    assert person.territory == "North-1"
    assert (person.status, person.termination_date) == ("terminated", date(2026, 5, 31))
    assert person.location == "people.csv:2"


def test_an_active_person_without_an_email() -> None:
    person = hr_row(
        hr_id="E2",
        valid_from=date(2026, 1, 1),
        first_name="Bo",
        last_name="Berg",
        role="rep",
        active=True,
        email=None,
    )

    assert (person.email, person.status) == (None, "active")
