"""`file-coaching` (CRM): coaching reports with ratings as columns (or a separate file with one
row per rating), plus optional users, development actions and calls files.

Each file's cursor is its content hash (the reports' includes the ratings file's): an
unchanged drop is not even parsed, and a changed one is re-read whole and upserted by id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

from pydantic import Field

from adoptloop.connectors.base import Connector, ConnectorConfig
from adoptloop.connectors.files.reader import (
    Columns,
    FileStream,
    SourceRow,
    file_fingerprint,
    person_ref,
    read_rows,
    read_stream,
)
from adoptloop.connectors.values import (
    BadValue,
    optional_date,
    optional_datetime,
    parse_date,
    parse_number,
)
from adoptloop.domain import (
    Account,
    ActionStatus,
    Checkpoint,
    CoachingObservation,
    DevelopmentAction,
    FieldInteraction,
    Item,
    PersonRef,
    Rating,
)
from adoptloop.fields import TimeZone
from adoptloop.mappings.identity import IdentityRule


class UserColumns(Columns):
    id: str = "Id"
    active: str = "IsActive"


class UsersFile(FileStream):
    columns: UserColumns = UserColumns()
    identity: list[IdentityRule] = Field(
        default=[
            IdentityRule(attribute="FederationIdentifier", person_field="hr_id"),
            IdentityRule(attribute="EmployeeNumber", person_field="employee_number"),
            IdentityRule(attribute="Email", person_field="email"),
        ],
        description="How a CRM user is matched to an HR record, tried in order",
    )


class ReportColumns(Columns):
    id: str = "Id"
    observer: str = "Manager_vod__c"
    observed: str = "Employee_vod__c"
    visit_date: str = "Review_Date__c"
    status: str = "Status__c"
    submitted_at: str = "Submitted_DateTime__c"
    modified_at: str = "SystemModstamp"
    comments: list[str] = Field(
        default=["Comments__c"],
        description="Free-text columns: reduced to word count and whether a capability is named",
    )
    next_steps: list[str] = Field(
        default=["Agreed_Next_Steps__c"], description="Free-text columns that hold a next step"
    )


class RatingRows(FileStream):
    """One row per rating, for exports that do not put ratings in columns."""

    report_id: str = "Coaching_Report__c"
    item: str = "Item__c"
    value: str = "Value__c"


class ReportsFile(FileStream):
    columns: ReportColumns = ReportColumns()
    counted_statuses: list[str] = Field(
        default=["Submitted", "Approved", "Submitted_vod", "Completed_vod"],
        description="Status values of a submitted/completed report; only these count",
    )
    ratings: RatingRows | None = Field(
        default=None,
        description="A separate file of ratings; without it the coaching items of the "
        "capability map are read as columns of the reports file",
    )


class ActionColumns(Columns):
    id: str = "Id"
    report_id: str = "Coaching_Report__c"
    person: str = "Employee_vod__c"
    capability: str = "Capability__c"
    agreed_on: str = "Agreed_Date__c"
    due_on: str = "Due_Date__c"
    completed_on: str = "Completed_Date__c"
    status: str = "Status__c"


class ActionsFile(FileStream):
    columns: ActionColumns = ActionColumns()


class CallColumns(Columns):
    id: str = "Id"
    rep: str = "OwnerId"
    date: str = "Call_Date_vod__c"
    channel: str = "Call_Channel_vod__c"
    type: str = "Call_Type_vod__c"
    status: str = "Status_vod__c"
    manager: str = "Ride_Along_User_vod__c"


class CallsFile(FileStream):
    columns: CallColumns = CallColumns()


class CoachingFileConfig(ConnectorConfig):
    type: Literal["file-coaching"]
    timezone: TimeZone = Field(default="UTC", description="IANA zone the visit dates are local to")
    users: UsersFile | None = None
    reports: ReportsFile
    actions: ActionsFile | None = None
    calls: CallsFile | None = None


_ACTION_STATUS: Mapping[str, ActionStatus] = {
    "open": "open",
    "in progress": "open",
    "not started": "open",
    "completed": "completed",
    "complete": "completed",
    "done": "completed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


class CoachingFileConnector(Connector[CoachingFileConfig]):
    type_name = "file-coaching"
    family = "crm"
    config_class = CoachingFileConfig

    @property
    def identity_rules(self) -> Sequence[IdentityRule]:
        return self.config.users.identity if self.config.users else ()

    def streams(self) -> Sequence[str]:
        named = {
            "users": self.config.users,
            "reports": self.config.reports,
            "actions": self.config.actions,
            "calls": self.config.calls,
        }
        return tuple(name for name, spec in named.items() if spec is not None)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        cfg = self.config
        if stream == "users" and cfg.users:
            c = cfg.users.columns
            return read_stream(
                stream, cfg.users, cursor, required=[c.id], parse=self._account, key_column=c.id
            )
        if stream == "reports":
            return self._read_reports(cursor)
        if stream == "actions" and cfg.actions:
            a = cfg.actions.columns
            required = [a.id, a.person, a.capability, a.agreed_on, a.status]
            return read_stream(
                stream, cfg.actions, cursor, required=required, parse=self._action, key_column=a.id
            )
        if stream == "calls" and cfg.calls:
            k = cfg.calls.columns
            required = [k.id, k.rep, k.date]
            return read_stream(
                stream, cfg.calls, cursor, required=required, parse=self._call, key_column=k.id
            )
        raise ValueError(f"{self.name}: no stream {stream!r}")

    def _account(self, row: SourceRow) -> Account:
        users = self.config.users
        assert users is not None  # noqa: S101 - only called for the users stream
        active = row.get(users.columns.active).lower() not in {"false", "0", "no"}
        return Account(
            person_ref(self.system, row.require(users.columns.id), row, users.identity), active
        )

    def _read_reports(self, cursor: str | None) -> Iterator[Item]:
        reports = self.config.reports
        c = reports.columns
        fingerprint = file_fingerprint(reports.path)
        if reports.ratings is not None:
            fingerprint += "+" + file_fingerprint(reports.ratings.path)
        if fingerprint == cursor:
            yield Checkpoint("reports", fingerprint)
            return
        long_ratings = self._long_ratings() if reports.ratings is not None else None
        items = list(self.context.capabilities.spec.coaching_items)

        def parse(row: SourceRow) -> CoachingObservation:
            if long_ratings is None:
                pairs = [(item, row.get(item)) for item in items if item in row.values]
            else:
                pairs = long_ratings.get(row.get(c.id), [])
            return self._observation(row, pairs)

        required = [c.id, c.observer, c.observed, c.visit_date, c.status]
        yield from read_stream(
            "reports",
            reports,
            None,
            required=required,
            parse=parse,
            key_column=c.id,
            fingerprint=fingerprint,
        )

    def _long_ratings(self) -> dict[str, list[tuple[str, str]]]:
        """Ratings kept one row per rating, grouped by report id (held in memory per file)."""
        spec = self.config.reports.ratings
        assert spec is not None  # noqa: S101 - only called when a ratings file is configured
        grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
        required = [spec.report_id, spec.item, spec.value]
        for row in read_rows(spec.path, fmt=spec.format, required=required):
            grouped[row.get(spec.report_id)].append((row.get(spec.item), row.get(spec.value)))
        return grouped

    def _observation(self, row: SourceRow, pairs: Sequence[tuple[str, str]]) -> CoachingObservation:
        reports = self.config.reports
        c = reports.columns
        capabilities = self.context.capabilities
        ratings: list[Rating] = []
        for item, value in pairs:
            if not value or not capabilities.is_mapped_item(item):
                continue
            try:
                ratings.append(capabilities.rate(item, parse_number(value, item)))
            except ValueError as exc:
                raise BadValue(str(exc)) from None
        comments = " ".join(row.get(col) for col in c.comments if row.get(col))
        next_step = any(row.get(col) for col in c.next_steps)
        counted = {s.lower() for s in reports.counted_statuses}
        status = row.require(c.status)
        return CoachingObservation(
            source_record_id=row.require(c.id),
            observer=PersonRef(self.system, row.require(c.observer)),
            observed=PersonRef(self.system, row.require(c.observed)),
            visit_date=parse_date(row.require(c.visit_date), c.visit_date),
            timezone=self.config.timezone,
            status=status,
            counted=status.lower() in counted,
            submitted_at=optional_datetime(row.get(c.submitted_at), c.submitted_at),
            modified_at=optional_datetime(row.get(c.modified_at), c.modified_at),
            ratings=tuple(sorted(ratings, key=lambda r: r.item)),
            has_next_step=next_step,
            names_capability=capabilities.mentions_capability(comments) if comments else False,
            word_count=len(comments.split()),
        )

    def _action(self, row: SourceRow) -> DevelopmentAction:
        assert self.config.actions is not None  # noqa: S101 - only called for the actions stream
        a = self.config.actions.columns
        capability = row.require(a.capability)
        if capability not in self.context.capabilities.capabilities:
            raise BadValue(f"{a.capability}: {capability!r} is not a capability of the map")
        raw_status = row.require(a.status)
        status = _ACTION_STATUS.get(raw_status.lower())
        if status is None:
            raise BadValue(f"{a.status}: {raw_status!r} is not open/completed/cancelled")
        return DevelopmentAction(
            source_record_id=row.require(a.id),
            person=PersonRef(self.system, row.require(a.person)),
            capability_id=capability,
            agreed_on=parse_date(row.require(a.agreed_on), a.agreed_on),
            due_on=optional_date(row.get(a.due_on), a.due_on),
            completed_on=optional_date(row.get(a.completed_on), a.completed_on),
            status=status,
            observation_record_id=row.get(a.report_id) or None,
        )

    def _call(self, row: SourceRow) -> FieldInteraction:
        assert self.config.calls is not None  # noqa: S101 - only called for the calls stream
        k = self.config.calls.columns
        manager = row.get(k.manager)
        return FieldInteraction(
            source_record_id=row.require(k.id),
            rep=PersonRef(self.system, row.require(k.rep)),
            date=parse_date(row.require(k.date), k.date),
            channel=row.get(k.channel) or None,
            type=row.get(k.type) or None,
            status=row.get(k.status) or None,
            manager=PersonRef(self.system, manager) if manager else None,
        )
