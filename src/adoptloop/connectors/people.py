"""The HR row every HRIS connector yields, built in one place.

Connectors read their vendor's fields (the role as the HRIS says it: a role code or a job
title; the pull stage maps it through the `roles:` map); `hr_row` makes the `domain.Person` from them the same
way for all: blank values become None, emails are compared lower-case, and `active` decides the
status.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Protocol, runtime_checkable

from adoptloop.domain import Person


@runtime_checkable
class ListsRoleValues(Protocol):
    """An HR connector that can list every row's role value cheaply (a file), so that
    `adoptloop validate` can check them all against the roles map before a run."""

    def role_values(self) -> Iterator[tuple[str, str]]:
        """(the role value as `Person.role` would hold it, where: "file:line"), every row."""
        ...


def _present(value: str | None) -> str | None:
    return (value.strip() or None) if value else None


def hr_row(
    *,
    hr_id: str,
    valid_from: date,
    first_name: str,
    last_name: str,
    role: str,
    active: bool,
    email: str | None = None,
    employee_number: str | None = None,
    manager_hr_id: str | None = None,
    region: str | None = None,
    country: str | None = None,
    territory: str | None = None,
    business_unit: str | None = None,
    hire_date: date | None = None,
    termination_date: date | None = None,
    team: str | None = None,
    location: str | None = None,
) -> Person:
    """One effective-dated HR row from the values a connector read."""
    mail = _present(email)
    return Person(
        hr_id=hr_id,
        valid_from=valid_from,
        first_name=first_name,
        last_name=last_name,
        email=mail.lower() if mail else None,
        employee_number=_present(employee_number),
        role=role,
        manager_hr_id=_present(manager_hr_id),
        region=_present(region),
        country=_present(country),
        territory=_present(territory),
        business_unit=_present(business_unit),
        status="active" if active else "terminated",
        hire_date=hire_date,
        termination_date=termination_date,
        team=_present(team),
        location=location,
    )
