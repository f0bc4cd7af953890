"""`file-people` (HRIS): one row per person, or several per person with `valid_from` for history.

The file's cursor is its content hash: an unchanged drop is not even parsed, and a changed one
is re-read whole and upserted by hr_id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from pydantic import Field

from adoptloop.connectors.base import Connector, ConnectorConfig, StreamFields
from adoptloop.connectors.files.discover import describe
from adoptloop.connectors.files.preflight import check_file
from adoptloop.connectors.files.reader import (
    Columns,
    FileStream,
    Layout,
    SourceRow,
    read_rows,
    read_stream,
)
from adoptloop.connectors.people import hr_row
from adoptloop.domain import DeletedKind, Item, Person


class PeopleColumns(Columns):
    hr_id: str = "hr_id"
    first_name: str = "first_name"
    last_name: str = "last_name"
    email: str = "email"
    employee_number: str = "employee_number"
    role: str = Field(
        default="role",
        description="The column whose value `roles.map` maps to rep/manager/director/other: "
        "a role code or a job title column",
    )
    manager_hr_id: str = "manager_hr_id"
    region: str = "region"
    country: str = "country"
    territory: str = "territory"
    business_unit: str = "business_unit"
    status: str = "status"
    hire_date: str = "hire_date"
    termination_date: str = "termination_date"
    valid_from: str = Field(
        default="valid_from",
        description="Effective date of the row; absent = the row is effective from the run date",
    )


class PeopleFileConfig(FileStream, ConnectorConfig):
    type: Literal["file-people"]
    columns: PeopleColumns = PeopleColumns()
    inactive_statuses: list[str] = Field(
        default=["terminated", "inactive", "leaver"],
        description="Status values (case-insensitive) that mean the person has left",
    )


class PeopleFileConnector(Connector[PeopleFileConfig]):
    type_name = "file-people"
    family = "hris"
    reads_local_files = True
    config_class = PeopleFileConfig

    def streams(self) -> Sequence[str]:
        return ("people",)

    def layout(self) -> Layout:
        """Several rows of one person are their history: the record id is hr_id@valid_from."""
        c = self.config.columns
        return Layout(
            where=f"sources.{self.name}",
            required=c.pick("hr_id", "first_name", "last_name", "role"),
            key_column=c.hr_id,
            dates=(c.valid_from, c.hire_date, c.termination_date),
            record_id=lambda row: f"{row.get(c.hr_id)}@{row.get(c.valid_from)}",
        )

    def preflight(self) -> None:
        check_file(self.config, self.layout())

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        return read_stream(
            stream, self.config, self.layout(), cursor, parse=self._person, kind="person"
        )

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:
        return ("person",) if self.config.mode == "snapshot" and stream == "people" else ()

    def discover(self) -> list[StreamFields]:
        return [describe("people", self.config, self.layout())]

    def role_values(self) -> Iterator[tuple[str, str]]:
        """Every row's role value with its "file:line" (for `adoptloop validate`)."""
        role = self.config.columns.role
        layout = Layout(f"sources.{self.name}", self.config.columns.pick("role"), role)
        for row in read_rows(self.config, layout):
            value = row.get(role)
            if value and row.defect is None:
                yield value, row.location

    def _person(self, row: SourceRow) -> Person:
        c = self.config.columns
        values = self.config.values
        inactive = {s.lower() for s in self.config.inactive_statuses}
        status_value = row.get(c.status).lower()
        valid_from = values.optional_date(row.get(c.valid_from), c.valid_from)
        return hr_row(
            hr_id=row.require(c.hr_id),
            valid_from=valid_from or self.context.run_date,
            first_name=row.require(c.first_name),
            last_name=row.require(c.last_name),
            email=row.get(c.email),
            employee_number=row.get(c.employee_number),
            role=row.require(c.role),
            manager_hr_id=row.get(c.manager_hr_id),
            region=row.get(c.region),
            country=row.get(c.country),
            territory=row.get(c.territory),
            business_unit=row.get(c.business_unit),
            active=status_value not in inactive,
            hire_date=values.optional_date(row.get(c.hire_date), c.hire_date),
            termination_date=values.optional_date(row.get(c.termination_date), c.termination_date),
        )
