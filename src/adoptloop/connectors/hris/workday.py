"""Workday Report-as-a-Service: a custom report's JSON rows under `Report_Entry`.

GET `{base_url}/{report_path}?format=json` with the report's prompts as query parameters,
HTTP Basic as the Integration System User. Column names are the report author's, so every
Person field has a configurable column (`columns:`); a full-name column (Workday's `Worker`)
is split when there are no first/last name columns.

- Incremental: with `since_prompt` (a prompt the report author added, e.g. `Updated_From`)
  the watermark is passed to Workday; either way rows whose `last_updated` column is not
  after the watermark (less `lookback_days`) are skipped.
- Effective dating: `valid_from` is the `effective_date` column when the report has one,
  else the date of `last_updated`, else the run date.
- A report is one response (RaaS does not page). Leavers must be in the report with their
  status (inactive statuses become `terminated`); RaaS has no deletions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from adoptloop.connectors.people import hr_row
from adoptloop.connectors.rest import (
    HttpConnector,
    HttpSourceConfig,
    MalformedPage,
    as_record,
    json_body,
    records_at,
    text,
)
from adoptloop.connectors.values import BadValue, optional_date, parse_datetime
from adoptloop.domain import Checkpoint, Item, Person, Rejected
from adoptloop.fields import Secret, Sensitive

STREAM = "people"


class WorkdayColumns(BaseModel):
    """Report column -> Person field. None = the report has no such column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hr_id: str = "Employee_ID"
    first_name: str | None = "First_Name"
    last_name: str | None = "Last_Name"
    full_name: str | None = "Worker"
    email: str | None = "Email"
    employee_number: str | None = "Employee_ID"
    role: str = "Job_Profile"
    manager_hr_id: str | None = "Manager_Employee_ID"
    region: str | None = "Supervisory_Organization"
    country: str | None = "Country"
    territory: str | None = None
    business_unit: str | None = "Cost_Center"
    status: str | None = "Worker_Status"
    hire_date: str | None = "Hire_Date"
    termination_date: str | None = "Termination_Date"
    effective_date: str | None = "Effective_Date"
    last_updated: str | None = "Last_Updated"


class WorkdayConfig(HttpSourceConfig):
    type: Literal["workday"]
    report_path: str = Field(
        description="e.g. ccx/service/customreport2/acme/ISU_adoptloop/Field_Force_Roster"
    )
    username: Sensitive = Field(description="The Integration System User")
    password: Secret
    prompts: dict[str, str] = Field(default_factory=dict, description="Report prompts")
    since_prompt: str | None = Field(
        default=None, description="A prompt that takes the watermark (ISO 8601), if any"
    )
    columns: WorkdayColumns = WorkdayColumns()
    default_role: str | None = Field(
        default=None, description="Role for rows without one; without it such rows quarantine"
    )
    inactive_statuses: list[str] = Field(default=["terminated", "inactive", "leaver"])
    lookback_days: int = Field(default=1, ge=0)


class WorkdayConnector(HttpConnector[WorkdayConfig]):
    type_name = "workday"
    family = "hris"
    config_class = WorkdayConfig
    service = "Workday"

    def auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.config.username, self.config.password.get_secret_value())

    def streams(self) -> Sequence[str]:
        return (STREAM,)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        if stream != STREAM:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        watermark = parse_datetime(cursor, "cursor") if cursor else None
        since = watermark - timedelta(days=self.config.lookback_days) if watermark else None
        params = {**self.config.prompts, "format": "json"}
        if since is not None and self.config.since_prompt:
            params[self.config.since_prompt] = since.astimezone(UTC).isoformat()
        with self.client() as client:
            response = client.request("GET", self.config.report_path, params=params)
        try:
            rows = records_at(response, json_body(response), "Report_Entry")
        except MalformedPage as exc:
            yield Rejected(STREAM, "report", exc.where, str(exc))
            return
        newest = watermark
        for number, raw in enumerate(rows, start=1):
            updated = self._updated(raw)
            if since is not None and updated is not None and updated <= since:
                continue
            yield self._item(raw, number, updated)
            if updated is not None and (newest is None or updated > newest):
                newest = updated
        yield Checkpoint(STREAM, newest.astimezone(UTC).isoformat() if newest else (cursor or ""))

    def _updated(self, raw: Any) -> datetime | None:
        column = self.config.columns.last_updated
        value = text(raw, column) if column and isinstance(raw, Mapping) else ""
        try:
            return parse_datetime(value, column or "") if value else None
        except BadValue:
            return None

    def _item(self, raw: Any, number: int, updated: datetime | None) -> Item:
        c = self.config.columns
        key = text(raw, c.hr_id) if isinstance(raw, Mapping) else ""
        where = f"Report_Entry[{number}]"
        try:
            return self._person(as_record(raw), updated, where)
        except BadValue as exc:
            return Rejected(STREAM, key or where, where, str(exc))

    def _person(self, row: Mapping[str, Any], updated: datetime | None, where: str) -> Person:
        c = self.config.columns

        def get(column: str | None) -> str | None:
            return (text(row, column) or None) if column else None

        def need(column: str) -> str:
            value = text(row, column)
            if not value:
                raise BadValue(f"{column} is empty")
            return value

        first, last = get(c.first_name), get(c.last_name)
        if not (first and last):
            full = get(c.full_name) or ""
            first, _, last = full.rpartition(" ")
            if not (first and last):
                raise BadValue(
                    f"no first and last name ({c.first_name}/{c.last_name}/{c.full_name})"
                )
        role = get(c.role) or self.config.default_role
        if not role:
            raise BadValue(f"{c.role} is empty (or set default_role)")
        status = (get(c.status) or "active").lower()
        inactive = status in {s.lower() for s in self.config.inactive_statuses}
        effective = optional_date(get(c.effective_date) or "", c.effective_date or "")
        terminated_on = optional_date(get(c.termination_date) or "", c.termination_date or "")
        return hr_row(
            hr_id=need(c.hr_id),
            valid_from=effective or (updated.date() if updated else self.context.run_date),
            first_name=first,
            last_name=last,
            email=get(c.email),
            employee_number=get(c.employee_number),
            role=role,
            manager_hr_id=get(c.manager_hr_id),
            region=get(c.region),
            country=get(c.country),
            territory=get(c.territory),
            business_unit=get(c.business_unit),
            active=not inactive,
            hire_date=optional_date(get(c.hire_date) or "", c.hire_date or ""),
            termination_date=terminated_on,
            location=f"Workday {where}",
        )
