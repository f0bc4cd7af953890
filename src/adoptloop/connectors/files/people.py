"""`file-people` (HRIS): one row per person, or several per person with `valid_from` for history.

Two forms (docs/exports.md, "People over time"):
- implicit (no `valid_to` column): a row per change, each in effect from its `valid_from` until
  the person's next row; a leaver is a row with an inactive `status` (and `termination_date`,
  the last day employed). The rows are yielded as they are.
- explicit (the header has the `valid_to` column): each row holds from `valid_from` through
  `valid_to` (both inclusive; blank = current), and employment ends on `termination_date` (the
  last day employed) when that comes first. `explicit_history` turns a person's rows into the
  store's form, where a row holds until the next one starts: a new row wherever the row in
  effect changes, and a `terminated` row for each gap (after a leaver, before a rehire). Where
  rows overlap, the one with the latest `valid_from` is in effect.

The file's cursor is its content hash: an unchanged drop is not even parsed, and a changed one
is re-read whole and upserted by hr_id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from pydantic import Field

from adoptloop.connectors.base import Connector, ConnectorConfig, StreamFields
from adoptloop.connectors.files.discover import describe
from adoptloop.connectors.files.preflight import check_stream
from adoptloop.connectors.files.reader import (
    Column,
    Columns,
    FileStream,
    Layout,
    SourceRow,
    read_rows,
    read_stream,
)
from adoptloop.connectors.people import hr_row
from adoptloop.connectors.values import BadValue
from adoptloop.domain import Checkpoint, DeletedKind, Item, Person, Snapshot

_DAY = timedelta(days=1)


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
    termination_date: str = Field(
        default="termination_date", description="The last day the person was employed"
    )
    team: str = Field(
        default="team",
        description="The person's team as HR names it; without one, `--by team` groups a rep "
        "with their manager's team",
    )
    valid_from: str = Field(
        default="valid_from",
        description="Effective date of the row; absent = the row is effective from the run date",
    )
    valid_to: str = Field(
        default="valid_to",
        description="The last day the row holds (inclusive; blank = current). With this column "
        "in the header the rows are explicit periods, gaps between them are gaps in employment",
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

    @property
    def _role(self) -> Column:
        """The column the roles map reads: settings `roles.column`, or else `columns.role`."""
        if self.context.role_column is not None:
            return Column(self.context.role_column, "roles.column")
        return Column(self.config.columns.role, "columns.role")

    def layout(self) -> Layout:
        """Several rows of one person are their history: the record id is hr_id@valid_from."""
        c = self.config.columns
        return Layout(
            where=f"sources.{self.name}",
            required=[*c.pick("hr_id", "first_name", "last_name"), self._role],
            key_column=c.hr_id,
            dates=(c.valid_from, c.hire_date, c.termination_date),
            record_id=lambda row: f"{row.get(c.hr_id)}@{row.get(c.valid_from)}",
        )

    def preflight(self) -> None:
        check_stream([(self.config, self.layout())], "people", self.restored)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        """The rows as records; explicit rows (with `valid_to`) are collected per person and
        yielded as `explicit_history` before the read's Snapshot/Checkpoint."""
        explicit: dict[str, list[Period]] = {}
        ends: dict[str, date | None] = {}  # an explicit row's location -> its last day

        def parse(row: SourceRow) -> Person:
            person = self._person(row)
            if self.config.columns.valid_to in row.values:
                ends[row.location] = self._last_day(row, person)
            return person

        items = read_stream(stream, self.config, self.layout(), cursor, parse=parse, kind="person")
        for item in items:
            if isinstance(item, Person) and item.location in ends:
                explicit.setdefault(item.hr_id, []).append(Period(item, ends[item.location]))
                continue
            if isinstance(item, (Snapshot, Checkpoint)) and explicit:
                for periods in explicit.values():
                    yield from explicit_history(periods)
                explicit.clear()
            yield item

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:
        return ("person",) if self.config.mode == "snapshot" and stream == "people" else ()

    def discover(self) -> list[StreamFields]:
        return [describe("people", self.config, self.layout())]

    def role_values(self) -> Iterator[tuple[str, str]]:
        """Every row's role value with its "file:line" (for `adoptloop validate`)."""
        role = self._role.name
        layout = Layout(f"sources.{self.name}", [self._role], role)
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
            role=row.require(self._role.name),
            manager_hr_id=row.get(c.manager_hr_id),
            region=row.get(c.region),
            country=row.get(c.country),
            territory=row.get(c.territory),
            business_unit=row.get(c.business_unit),
            active=status_value not in inactive,
            hire_date=values.optional_date(row.get(c.hire_date), c.hire_date),
            termination_date=values.optional_date(row.get(c.termination_date), c.termination_date),
            team=row.get(c.team),
        )

    def _last_day(self, row: SourceRow, person: Person) -> date | None:
        """An explicit row's last day employed in it: its valid_to or its termination date,
        whichever comes first (None: open). Refuses a row ending before it starts and a
        termination before the hire."""
        c = self.config.columns
        valid_to = self.config.values.optional_date(row.get(c.valid_to), c.valid_to)
        if valid_to is not None and valid_to < person.valid_from:
            raise BadValue(
                f"{c.valid_to}: {valid_to} is before {c.valid_from} {person.valid_from} "
                f"({c.valid_to} is the row's last day, inclusive)"
            )
        hired, left = person.hire_date, person.termination_date
        if hired is not None and left is not None and left < hired:
            raise BadValue(
                f"{c.termination_date}: {left} is before {c.hire_date} {hired} "
                f"({c.termination_date} is the last day employed)"
            )
        if left is None:
            return valid_to
        return left if valid_to is None else min(valid_to, left)


@dataclass(frozen=True, slots=True)
class Period:
    """An explicit HR row: in effect from `row.valid_from` through `last` (None: open)."""

    row: Person
    last: date | None

    def covers(self, day: date) -> bool:
        return self.row.valid_from <= day and (self.last is None or day <= self.last)


def explicit_history(periods: Sequence[Period]) -> list[Person]:
    """One person's explicit rows as the store keeps HR rows (each in effect until the next
    one starts): a row from every day the row in effect changes; on a day no row covers (a
    leaver, a gap before a rehire) a `terminated` row, the last row's values, with the day
    before as termination date. Overlapping rows: the latest valid_from is in effect."""
    days = sorted({p.row.valid_from for p in periods} | {p.last + _DAY for p in periods if p.last})
    out: list[Person] = []
    current: Period | None = None
    for day in days:
        covering = [p for p in periods if p.covers(day)]
        winner = max(covering, key=lambda p: p.row.valid_from) if covering else None
        if winner is not None and winner is not current:
            out.append(replace(winner.row, valid_from=day))
        elif winner is None and current is not None:
            gone = day - _DAY
            out.append(
                replace(current.row, valid_from=day, status="terminated", termination_date=gone)
            )
        current = winner
    return out
