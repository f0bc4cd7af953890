"""BambooHR: the connector kit, directory then /employees/changed, supervisors, deletions."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.hris.bamboohr import BambooHRConfig, BambooHRConnector
from adoptloop.domain import Deleted, Person, Role
from adoptloop.testing.fake_api import FakeApi, json_response, text_response
from adoptloop.testing.kit import (
    ConnectorContract,
    FakeVendor,
    RecordingSleep,
    domain_records,
    drain,
    last_cursor,
    make_context,
)

API_KEY = "bamboo-test-key"
V1 = "/api/gateway.php/acme/v1"


class FakeBambooHR:
    def __init__(self) -> None:
        self.api = FakeApi("https://api.bamboohr.example.test")
        self.api.route("GET", f"{V1}/employees/directory", self._directory)
        self.api.route("GET", f"{V1}/employees/changed", self._changed)
        self.api.route("GET", f"{V1}/employees/*", self._employee)
        self.employees: dict[str, dict[str, Any]] = {}
        self.changes: dict[str, dict[str, str]] = {}
        self.now = datetime(2024, 3, 1, tzinfo=UTC)
        self._ids = itertools.count(101)
        self._broken_page: int | None = None
        self._responses = 0

    def hire(self, **fields: Any) -> str:
        employee_id = str(next(self._ids))
        self.now += timedelta(hours=1)
        self.employees[employee_id] = {
            "id": employee_id,
            "employeeNumber": f"E{employee_id}",
            "firstName": "Tom",
            "lastName": "Ng",
            "workEmail": f"e{employee_id}@example.com",
            "jobTitle": "Sales Representative",
            "division": "Commercial",
            "location": "East",
            "status": "Active",
            "hireDate": "2020-01-06",
            "terminationDate": "0000-00-00",
            "supervisorEId": None,
            **fields,
        }
        self._touch(employee_id, "Inserted")
        return employee_id

    def update(self, employee_id: str, **fields: Any) -> None:
        self.now += timedelta(hours=1)
        self.employees[employee_id].update(fields)
        self._touch(employee_id, "Updated")

    def delete(self, employee_id: str) -> None:
        self.now += timedelta(hours=1)
        del self.employees[employee_id]
        self._touch(employee_id, "Deleted")

    def _touch(self, employee_id: str, action: str) -> None:
        stamp = self.now.isoformat()
        self.changes[employee_id] = {"id": employee_id, "action": action, "lastChanged": stamp}

    # --- the kit's FakeVendor --------------------------------------------------------------

    def add(self, count: int) -> list[str]:
        return [f"E{self.hire()}" for _ in range(count)]

    def add_bad(self) -> str:
        return self.hire(jobTitle="")

    def break_page(self, number: int) -> None:
        self._broken_page = number
        self._responses = 0

    # --- serving ---------------------------------------------------------------------------

    def _guard(self, request: httpx.Request) -> httpx.Response | None:
        expected = base64.b64encode(f"{API_KEY}:x".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return json_response({"error": "unauthorized"}, 401)
        assert request.headers["Accept"] == "application/json"
        self._responses += 1
        if self._responses == self._broken_page:
            self._broken_page = None
            return text_response("<?xml version='1.0'?><error/>", content_type="text/xml")
        return None

    def _directory(self, request: httpx.Request) -> httpx.Response:
        listing = [{"id": i, "displayName": "x"} for i in sorted(self.employees)]
        return self._guard(request) or json_response({"fields": [], "employees": listing})

    def _changed(self, request: httpx.Request) -> httpx.Response:
        since = datetime.fromisoformat(request.url.params["since"])
        changed = {
            i: c
            for i, c in self.changes.items()
            if datetime.fromisoformat(c["lastChanged"]) > since
        }
        body = {"latest": self.now.isoformat(), "employees": changed}
        return self._guard(request) or json_response(body)

    def _employee(self, request: httpx.Request) -> httpx.Response:
        employee = self.employees.get(request.url.path.rsplit("/", 1)[1])
        if employee is None:
            return self._guard(request) or json_response({"error": "not found"}, 404)
        fields = request.url.params["fields"].split(",")
        return self._guard(request) or json_response(
            {"id": employee["id"], **{f: employee.get(f) for f in fields}}
        )


def bamboo(hr: FakeBambooHR, *, run_date: date = date(2024, 3, 10)) -> BambooHRConnector:
    config = BambooHRConfig(
        type="bamboohr",
        base_url=f"{hr.api.base_url}/api/gateway.php/acme",
        api_key=SecretStr(API_KEY),
        lookback_minutes=0,
    )
    return BambooHRConnector(
        config,
        make_context(name="bamboo", run_date=run_date),
        transport=hr.api.transport(),
        sleep=RecordingSleep(),
        now=lambda: hr.now,
    )


class TestBambooHRContract(ConnectorContract):
    stream = "people"
    table = "people"
    roles: ClassVar[Mapping[str, Role]] = {"Sales Representative": "rep"}  # its job title

    def make_vendor(self) -> FakeBambooHR:
        return FakeBambooHR()

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> BambooHRConnector:
        assert isinstance(vendor, FakeBambooHR)
        config = BambooHRConfig(
            type="bamboohr",
            base_url=f"{vendor.api.base_url}/api/gateway.php/acme",
            api_key=SecretStr(API_KEY),
            lookback_minutes=0,
        )
        return BambooHRConnector(
            config, context, transport=vendor.api.transport(), sleep=sleep, now=lambda: vendor.now
        )


def people(items: list[Any]) -> dict[str, Person]:
    return {p.hr_id: p for p in domain_records(items) if isinstance(p, Person)}


def test_first_run_reads_the_directory_with_supervisors_as_hr_ids() -> None:
    hr = FakeBambooHR()
    boss = hr.hire(jobTitle="Regional Sales Manager")
    hr.hire(supervisorEId=boss)
    found = people(drain(bamboo(hr), "people"))
    assert found["E102"].manager_hr_id == "E101"
    assert found["E102"].valid_from == date(2024, 3, 10)  # the run date: no change date yet
    assert found["E102"].hire_date == date(2020, 1, 6)
    assert found["E102"].termination_date is None  # 0000-00-00 means unset


def test_supervisor_change_is_effective_from_its_last_changed_day() -> None:
    hr = FakeBambooHR()
    old, new = hr.hire(), hr.hire()
    rep = hr.hire(supervisorEId=old)
    cursor = last_cursor(drain(bamboo(hr), "people"))
    hr.now = datetime(2024, 4, 2, 9, tzinfo=UTC)
    hr.update(rep, supervisorEId=new)

    moved = people(drain(bamboo(hr, run_date=date(2024, 4, 5)), "people", cursor))

    assert list(moved) == [f"E{rep}"]
    assert (moved[f"E{rep}"].manager_hr_id, moved[f"E{rep}"].valid_from) == (
        f"E{new}",
        date(2024, 4, 2),
    )


def test_deleted_employee_becomes_a_person_tombstone() -> None:
    hr = FakeBambooHR()
    hr.add(1)
    leaver = hr.hire()
    cursor = last_cursor(drain(bamboo(hr), "people"))
    hr.delete(leaver)
    items = drain(bamboo(hr), "people", cursor)
    assert [i for i in items if isinstance(i, Deleted)] == [
        Deleted("person", f"E{leaver}", on=hr.now.date())
    ]


def test_inactive_status_reads_as_terminated() -> None:
    hr = FakeBambooHR()
    hr.hire(status="Inactive", terminationDate="2024-02-29")
    [person] = people(drain(bamboo(hr), "people")).values()
    assert (person.status, person.termination_date) == ("terminated", date(2024, 2, 29))
