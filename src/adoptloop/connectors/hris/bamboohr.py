"""BambooHR: the employee directory for the first load, `/employees/changed?since=` after it.

Base URL `https://api.bamboohr.com/api/gateway.php/<companyDomain>`; HTTP Basic with the API
key as user name and `x` as password; `Accept: application/json` (BambooHR answers XML
otherwise).

- First run: `GET v1/employees/directory` lists the ids; each employee is read with
  `GET v1/employees/{id}?fields=...`. Rows are effective from the run date.
- Later runs: `GET v1/employees/changed?since=<latest - lookback>` gives each changed id with
  its action and `lastChanged`; inserted and updated employees are read again and effective
  from the day of `lastChanged`; deleted ones become `Deleted(kind="person")`. The answer's
  `latest` is the next watermark.
- `supervisorEId` is the supervisor's BambooHR id: it is turned into an hr_id from the id map
  kept in the cursor, or by reading that employee's hr_id field once.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import date, timedelta
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
from adoptloop.connectors.state import pack_state, unpack_state
from adoptloop.connectors.values import BadValue, optional_date, parse_datetime
from adoptloop.domain import Checkpoint, Deleted, Item, Person, Rejected
from adoptloop.fields import Secret
from adoptloop.http.client import RestClient

STREAM = "people"


class BambooHRFields(BaseModel):
    """BambooHR field name -> Person field. None = not read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hr_id: str = "employeeNumber"
    first_name: str = "firstName"
    last_name: str = "lastName"
    email: str | None = "workEmail"
    employee_number: str | None = "employeeNumber"
    role: str = "jobTitle"
    region: str | None = "location"
    country: str | None = "country"
    territory: str | None = None
    business_unit: str | None = "division"
    status: str = "status"
    hire_date: str | None = "hireDate"
    termination_date: str | None = "terminationDate"

    def names(self) -> list[str]:
        values = [v for v in self.model_dump().values() if v]
        return sorted({*values, "supervisorEId"})


class BambooHRConfig(HttpSourceConfig):
    type: Literal["bamboohr"]
    api_key: Secret
    fields: BambooHRFields = BambooHRFields()
    lookback_minutes: int = Field(default=10, ge=0)


class BambooHRConnector(HttpConnector[BambooHRConfig]):
    type_name = "bamboohr"
    family = "hris"
    config_class = BambooHRConfig
    service = "BambooHR"

    def auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.config.api_key.get_secret_value(), "x")

    def streams(self) -> Sequence[str]:
        return (STREAM,)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        if stream != STREAM:
            raise ValueError(f"{self.name}: no stream {stream!r}")
        state = unpack_state(cursor)
        self._ids: dict[str, str] = dict(state.get("ids", {}))
        latest = state.get("latest")
        started = self.now()
        with self.client() as client:
            try:
                if latest:
                    latest = yield from self._changed(client, str(latest))
                else:
                    yield from self._directory(client)
                    latest = started.isoformat()
            except MalformedPage as exc:
                yield Rejected(STREAM, "page", exc.where, str(exc))
                return  # no checkpoint: the next run starts again from the stored cursor
        yield Checkpoint(STREAM, pack_state({"latest": latest, "ids": self._ids}))

    def _directory(self, client: RestClient) -> Iterator[Item]:
        response = client.request("GET", "v1/employees/directory")
        for entry in records_at(response, json_body(response), "employees"):
            employee_id = text(entry, "id") if isinstance(entry, Mapping) else ""
            if not employee_id:
                yield Rejected(STREAM, "(no id)", "BambooHR directory", "an entry without id")
                continue
            yield from self._employee(client, employee_id, None)

    def _changed(self, client: RestClient, latest: str) -> Generator[Item, None, str]:
        since = parse_datetime(latest, "latest") - timedelta(minutes=self.config.lookback_minutes)
        response = client.request(
            "GET", "v1/employees/changed", params={"since": since.isoformat(), "type": "all"}
        )
        body = json_body(response)
        changes = body.get("employees") if isinstance(body, dict) else None
        if changes is None or not isinstance(changes, dict | list):
            raise MalformedPage("the answer has no employees map", where="GET employees/changed")
        entries = changes.values() if isinstance(changes, dict) else changes
        for change in sorted(entries, key=lambda c: text(c, "lastChanged")):
            employee_id, action = text(change, "id"), text(change, "action").lower()
            changed_at = text(change, "lastChanged")
            on = parse_datetime(changed_at, "lastChanged").date() if changed_at else None
            if action == "deleted":
                hr_id = self._ids.pop(employee_id, None)
                if hr_id:
                    yield Deleted("person", hr_id, on=on, location=f"BambooHR {employee_id}")
            elif employee_id:
                yield from self._employee(client, employee_id, on)
        return text(body, "latest") or self.now().isoformat()

    def _employee(
        self, client: RestClient, employee_id: str, changed_on: date | None
    ) -> Iterator[Item]:
        response = client.request(
            "GET",
            f"v1/employees/{employee_id}",
            params={"fields": ",".join(self.config.fields.names())},
            accept=(404,),
        )
        if response.status_code == 404:
            return  # deleted since it was listed
        raw = json_body(response)
        try:
            person = self._person(client, as_record(raw), changed_on)
        except BadValue as exc:
            yield Rejected(STREAM, employee_id, f"BambooHR employee {employee_id}", str(exc))
            return
        self._ids[employee_id] = person.hr_id
        yield person

    def _hr_id_of(self, client: RestClient, employee_id: str) -> str | None:
        if not employee_id:
            return None
        if employee_id not in self._ids:
            field_name = self.config.fields.hr_id
            response = client.request(
                "GET",
                f"v1/employees/{employee_id}",
                params={"fields": field_name},
                accept=(404,),
            )
            if response.status_code == 404:
                return None
            value = text(as_record(json_body(response)), field_name)
            if not value:
                return None
            self._ids[employee_id] = value
        return self._ids[employee_id]

    def _person(
        self, client: RestClient, raw: Mapping[str, Any], changed_on: date | None
    ) -> Person:
        f = self.config.fields

        def get(name: str | None) -> str | None:
            return (text(raw, name) or None) if name else None

        def need(name: str) -> str:
            value = text(raw, name)
            if not value:
                raise BadValue(f"{name} is empty")
            return value

        active = (get(f.status) or "Active").lower() == "active"
        termination = optional_date(_no_zero(get(f.termination_date)), f.termination_date or "")
        return hr_row(
            hr_id=need(f.hr_id),
            valid_from=changed_on or self.context.run_date,
            first_name=need(f.first_name),
            last_name=need(f.last_name),
            email=get(f.email),
            employee_number=get(f.employee_number),
            role=need(f.role),
            manager_hr_id=self._hr_id_of(client, text(raw, "supervisorEId")),
            region=get(f.region),
            country=get(f.country),
            territory=get(f.territory),
            business_unit=get(f.business_unit),
            active=active,
            hire_date=optional_date(_no_zero(get(f.hire_date)), f.hire_date or ""),
            termination_date=termination,
            location=f"BambooHR employee {text(raw, 'id')}",
        )


def _no_zero(value: str | None) -> str:
    """BambooHR writes an unset date as 0000-00-00."""
    return "" if not value or value.startswith("0000") else value
