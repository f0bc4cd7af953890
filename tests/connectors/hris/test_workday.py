"""Workday RaaS: the connector kit, configurable columns, watermark and effective dating."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.hris.workday import WorkdayColumns, WorkdayConfig, WorkdayConnector
from adoptloop.domain import Person, Role
from adoptloop.testing.fake_api import FakeApi, json_response, text_response
from adoptloop.testing.kit import (
    ConnectorContract,
    FakeVendor,
    RecordingSleep,
    domain_records,
    drain,
    last_cursor,
    make_context,
    rejected,
)

REPORT = "/ccx/service/customreport2/acme/ISU_adoptloop/Field_Force_Roster"
PACIFIC = timezone(timedelta(hours=-8))


class FakeWorkday:
    """A RaaS report; rows shaped like the reference payload (the author's column names)."""

    def __init__(self) -> None:
        self.api = FakeApi("https://wd2-impl-services1.workday.example.test")
        self.api.route("GET", REPORT, self._report)
        self.rows: list[dict[str, Any]] = []
        self._numbers = itertools.count(101)
        self._clock = itertools.count(0)
        self._broken = False

    def row(self, employee_id: str, **overrides: Any) -> dict[str, Any]:
        updated = datetime(2024, 3, 1, 10, tzinfo=PACIFIC) + timedelta(hours=next(self._clock))
        row = {
            "Employee_ID": employee_id,
            "Worker": "Tom Ng",
            "Job_Profile": "Sales Representative",
            "Manager_Employee_ID": "E100",
            "Supervisory_Organization": "Oncology Sales - East",
            "Cost_Center": "CC-4100",
            "Last_Updated": updated.isoformat(timespec="milliseconds"),
            **overrides,
        }
        self.rows.append(row)
        return row

    def add(self, count: int) -> list[str]:
        return [self.row(f"E{next(self._numbers)}")["Employee_ID"] for _ in range(count)]

    def add_bad(self) -> str:
        return str(self.row(f"E{next(self._numbers)}", Job_Profile="")["Employee_ID"])

    def break_page(self, number: int) -> None:
        self._broken = number == 1

    def _report(self, request: httpx.Request) -> httpx.Response:
        if self._broken:
            self._broken = False
            return text_response("<wd:Error>Report timed out</wd:Error>", content_type="text/xml")
        assert request.url.params["format"] == "json"
        return json_response({"Report_Entry": self.rows})


def config(report: FakeWorkday, **overrides: Any) -> WorkdayConfig:
    values: dict[str, Any] = {
        "type": "workday",
        "base_url": report.api.base_url,
        "report_path": REPORT,
        "username": "ISU_adoptloop",
        "password": SecretStr("wd-test-secret"),
        "lookback_days": 0,
    }
    return WorkdayConfig(**{**values, **overrides})


def workday(report: FakeWorkday, **overrides: Any) -> WorkdayConnector:
    return WorkdayConnector(
        config(report, **overrides),
        make_context(name="workday"),
        transport=report.api.transport(),
        sleep=RecordingSleep(),
    )


class TestWorkdayContract(ConnectorContract):
    stream = "people"
    table = "people"
    roles: ClassVar[Mapping[str, Role]] = {"Sales Representative": "rep"}  # its job title
    min_requests = 1  # a report is one response
    broken_page = 1

    def make_vendor(self) -> FakeWorkday:
        return FakeWorkday()

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> WorkdayConnector:
        assert isinstance(vendor, FakeWorkday)
        return WorkdayConnector(
            config(vendor), context, transport=vendor.api.transport(), sleep=sleep
        )


def test_reference_row_becomes_a_person_dated_by_last_updated() -> None:
    report = FakeWorkday()
    report.row("E101")
    [tom] = domain_records(drain(workday(report), "people"))
    assert isinstance(tom, Person)
    assert (tom.hr_id, tom.first_name, tom.last_name) == ("E101", "Tom", "Ng")
    assert (tom.manager_hr_id, tom.region, tom.business_unit) == (
        "E100",
        "Oncology Sales - East",
        "CC-4100",
    )
    assert tom.valid_from == date(2024, 3, 1)  # 10:00 -08:00 is still March 1st in UTC


def test_columns_are_the_report_authors_and_configurable() -> None:
    report = FakeWorkday()
    report.row("E101", Region_Name="EMEA North", Title="MSL", Effective="2024-02-15")
    columns = WorkdayColumns(region="Region_Name", role="Title", effective_date="Effective")
    [person] = domain_records(drain(workday(report, columns=columns), "people"))
    assert isinstance(person, Person)
    assert (person.region, person.role, person.valid_from) == (
        "EMEA North",
        "MSL",
        date(2024, 2, 15),
    )


def test_manager_change_in_a_later_report_opens_a_row_from_its_effective_date() -> None:
    report = FakeWorkday()
    report.row("E101", Effective_Date="2024-01-01")
    first = drain(workday(report), "people")
    report.rows[0].update(
        Manager_Employee_ID="E200", Effective_Date="2024-03-01", Last_Updated="2024-03-02T09:00:00Z"
    )
    [moved] = domain_records(drain(workday(report), "people", last_cursor(first)))
    assert isinstance(moved, Person)
    assert (moved.manager_hr_id, moved.valid_from) == ("E200", date(2024, 3, 1))


def test_watermark_is_passed_to_the_since_prompt() -> None:
    report = FakeWorkday()
    report.add(1)
    cursor = last_cursor(drain(workday(report, since_prompt="Updated_From"), "people"))
    drain(workday(report, since_prompt="Updated_From", prompts={"Org": "Sales"}), "people", cursor)
    last = report.api.requests[-1].url.params
    assert last["Updated_From"] == "2024-03-01T18:00:00+00:00"
    assert last["Org"] == "Sales"


def test_row_without_a_role_is_quarantined_unless_a_default_role_is_set() -> None:
    report = FakeWorkday()
    bad = report.add_bad()
    [quarantined] = rejected(drain(workday(report), "people"))
    assert quarantined.record_key == bad
    assert "Job_Profile is empty" in quarantined.reason
    [person] = domain_records(drain(workday(report, default_role="Field Rep"), "people"))
    assert isinstance(person, Person)
    assert person.role == "Field Rep"
