"""`file-coaching` (CRM): coaching reports with ratings as columns (or a separate file with one
row per rating), plus optional users, development actions and calls files.

Each file's cursor is its content hash (the reports' includes the ratings file's): an
unchanged drop is not even parsed, and a changed one is re-read whole and upserted by id.
Every file entry (users, reports, reports.ratings, actions, calls) has its own encoding,
delimiter, quotechar, date_format and decimal. Visit, agreed, completed and call dates are
local: one day after the run date is still taken (zones ahead of UTC), a later one is a row
defect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    checked_rows,
    file_fingerprint,
    person_ref,
    read_rows,
    read_stream,
    unreadable,
)
from adoptloop.connectors.values import (
    BadValue,
    ValueFormat,
    moment_not_after,
    not_after,
)
from adoptloop.domain import (
    Account,
    ActionStatus,
    Checkpoint,
    CoachingObservation,
    DeletedKind,
    DevelopmentAction,
    FieldInteraction,
    Item,
    PersonRef,
    Rating,
    Record,
    Rejected,
    shown,
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


# the kind of record each stream holds (users are accounts: never deleted from a file)
_KINDS: Mapping[str, DeletedKind] = {
    "reports": "observation",
    "actions": "action",
    "calls": "interaction",
}


class CoachingFileConnector(Connector[CoachingFileConfig]):
    type_name = "file-coaching"
    family = "crm"
    reads_local_files = True
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

    def layouts(self) -> dict[str, tuple[FileStream, Layout]]:
        """Each configured file with what is read from it; `ratings` only with a ratings file."""
        cfg = self.config
        where = f"sources.{self.name}"
        found: dict[str, tuple[FileStream, Layout]] = {}
        if cfg.users:
            u = cfg.users.columns
            # the identity attributes are optional: the rules are tried in order
            found["users"] = (cfg.users, Layout(f"{where}.users", u.pick("id"), u.id))
        r = cfg.reports.columns
        capabilities = self.context.capabilities
        items = [i for i in capabilities.spec.coaching_items if capabilities.is_mapped_item(i)]
        found["reports"] = (
            cfg.reports,
            Layout(
                f"{where}.reports",
                r.pick("id", "observer", "observed", "visit_date", "status"),
                r.id,
                dates=(r.visit_date,),
                datetimes=(r.submitted_at, r.modified_at),
                numbers=() if cfg.reports.ratings else tuple(items),
            ),
        )
        if cfg.reports.ratings:
            g = cfg.reports.ratings
            found["ratings"] = (
                g,
                Layout(
                    f"{where}.reports.ratings",
                    [
                        Column(g.report_id, "report_id"),
                        Column(g.item, "item"),
                        Column(g.value, "value"),
                    ],
                    g.report_id,
                    numbers=(g.value,),
                    record_id=lambda row: f"{row.get(g.report_id)} {row.get(g.item)}",
                ),
            )
        if cfg.actions:
            a = cfg.actions.columns
            found["actions"] = (
                cfg.actions,
                Layout(
                    f"{where}.actions",
                    a.pick("id", "person", "capability", "agreed_on", "status"),
                    a.id,
                    dates=(a.agreed_on, a.due_on, a.completed_on),
                ),
            )
        if cfg.calls:
            k = cfg.calls.columns
            found["calls"] = (
                cfg.calls,
                Layout(f"{where}.calls", k.pick("id", "rep", "date"), k.id, dates=(k.date,)),
            )
        return found

    def preflight(self) -> None:
        layouts = self.layouts()
        for stream in self.streams():  # the reports stream's cursor covers the ratings file too
            files = [
                layouts[stream],
                *([layouts["ratings"]] if stream == "reports" and "ratings" in layouts else []),
            ]
            check_stream(files, stream, self.restored)

    def read(self, stream: str, cursor: str | None) -> Iterator[Item]:
        layouts = self.layouts()
        if stream == "reports":
            return self._read_reports(cursor, layouts)
        parse: dict[str, Callable[[SourceRow], Record]] = {
            "users": self._account,
            "actions": self._action,
            "calls": self._call,
        }
        if stream in parse and stream in layouts:
            spec, layout = layouts[stream]
            kind = _KINDS.get(stream)
            return read_stream(stream, spec, layout, cursor, parse=parse[stream], kind=kind)
        raise ValueError(f"{self.name}: no stream {stream!r}")

    def discover(self) -> list[StreamFields]:
        """Each file; the rating items of the capability map are looked for among the reports'
        columns, or among the ratings file's item values."""
        capabilities = self.context.capabilities
        items = [i for i in capabilities.spec.coaching_items if capabilities.is_mapped_item(i)]
        layouts = self.layouts()
        found: list[StreamFields] = []
        for stream, (spec, layout) in layouts.items():
            if stream == "reports" and "ratings" not in layouts:
                found.append(describe(stream, spec, layout, also_read=items, items=items))
            elif stream == "ratings":
                g = self.config.reports.ratings
                assert g is not None  # noqa: S101 - "ratings" is only laid out with one
                values = {row.get(g.item) for row in read_rows(spec, layout)}
                found.append(describe(stream, spec, layout, items=items, item_values=values))
            else:
                found.append(describe(stream, spec, layout))
        return found

    def snapshot_kinds(self, stream: str) -> tuple[DeletedKind, ...]:
        spec = self.layouts().get(stream, (None, None))[0]
        kind = _KINDS.get(stream)
        return (kind,) if spec is not None and kind and spec.mode == "snapshot" else ()

    def _account(self, row: SourceRow) -> Account:
        users = self.config.users
        assert users is not None  # noqa: S101 - only called for the users stream
        active = row.get(users.columns.active).lower() not in {"false", "0", "no"}
        return Account(
            person_ref(self.system, row.require(users.columns.id), row, users.identity), active
        )

    def _read_reports(
        self, cursor: str | None, layouts: dict[str, tuple[FileStream, Layout]]
    ) -> Iterator[Item]:
        reports, layout = layouts["reports"]
        c = self.config.reports.columns
        try:
            fingerprint = file_fingerprint(reports.path)
            if "ratings" in layouts:
                fingerprint += "+" + file_fingerprint(layouts["ratings"][0].path)
        except OSError as exc:
            raise unreadable(reports.path, layout.where, exc) from None
        if fingerprint == cursor:
            yield Checkpoint("reports", fingerprint)
            return
        long_ratings: dict[str, list[tuple[SourceRow, str, str]]] | None = None
        if "ratings" in layouts:
            long_ratings, defects = self._long_ratings(*layouts["ratings"])
            yield from defects
        items = list(self.context.capabilities.spec.coaching_items)

        def parse(row: SourceRow) -> CoachingObservation:
            if long_ratings is None:
                pairs = [(item, row.get(item)) for item in items if item in row.values]
                return self._observation(row, pairs, reports.values)
            ratings = long_ratings.pop(row.get(c.id), [])
            fmt = layouts["ratings"][0].values
            return self._observation(row, [(item, value) for _, item, value in ratings], fmt)

        yield from read_stream(
            "reports",
            reports,
            layout,
            None,
            parse=parse,
            fingerprint=fingerprint,
            kind="observation",
        )
        for report_id, orphans in (long_ratings or {}).items():
            for row, _, _ in orphans:  # every rating row is used or quarantined
                yield Rejected(
                    "reports",
                    f"{row.path.name}:{row.line}",
                    row.location,
                    f"rating of report {report_id}, which is not in {reports.path.name}",
                )

    def _long_ratings(
        self, spec: FileStream, layout: Layout
    ) -> tuple[dict[str, list[tuple[SourceRow, str, str]]], list[Rejected]]:
        """Ratings kept one row per rating, grouped by report id (held in memory per file),
        and the rating rows that are row defects."""
        ratings = self.config.reports.ratings
        assert ratings is not None  # noqa: S101 - only called when a ratings file is configured
        grouped: dict[str, list[tuple[SourceRow, str, str]]] = defaultdict(list)
        defects: list[Rejected] = []
        for row in checked_rows("reports", spec, layout):
            if isinstance(row, Rejected):
                defects.append(row)
                continue
            grouped[row.get(ratings.report_id)].append(
                (row, row.get(ratings.item), row.get(ratings.value))
            )
        return grouped, defects

    def _observation(
        self, row: SourceRow, pairs: Sequence[tuple[str, str]], numbers: ValueFormat
    ) -> CoachingObservation:
        reports = self.config.reports
        values = reports.values
        today = self.context.run_date
        c = reports.columns
        capabilities = self.context.capabilities
        ratings: list[Rating] = []
        for item, value in pairs:
            if not value or not capabilities.is_mapped_item(item):
                continue
            try:
                ratings.append(capabilities.rate(item, numbers.parse_number(value, item)))
            except ValueError as exc:
                raise BadValue(str(exc)) from None
        comments = " ".join(row.get(col) for col in c.comments if row.get(col))
        next_step = any(row.get(col) for col in c.next_steps)
        counted = {s.lower() for s in reports.counted_statuses}
        status = row.require(c.status)
        visit_date = values.parse_date(row.require(c.visit_date), c.visit_date)
        submitted_at = values.optional_datetime(row.get(c.submitted_at), c.submitted_at)
        return CoachingObservation(
            source_record_id=row.require(c.id),
            observer=PersonRef(self.system, row.require(c.observer)),
            observed=PersonRef(self.system, row.require(c.observed)),
            visit_date=not_after(visit_date, today, c.visit_date, slack_days=1),
            timezone=self.config.timezone,
            status=status,
            counted=status.lower() in counted,
            submitted_at=(
                moment_not_after(submitted_at, today, c.submitted_at) if submitted_at else None
            ),
            modified_at=values.optional_datetime(row.get(c.modified_at), c.modified_at),
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
            raise BadValue(f"{a.capability}: {shown(capability)} is not a capability of the map")
        raw_status = row.require(a.status)
        status = _ACTION_STATUS.get(raw_status.lower())
        if status is None:
            raise BadValue(f"{a.status}: {shown(raw_status)} is not open/completed/cancelled")
        values, today = self.config.actions.values, self.context.run_date
        agreed_on = values.parse_date(row.require(a.agreed_on), a.agreed_on)
        completed_on = values.optional_date(row.get(a.completed_on), a.completed_on)
        return DevelopmentAction(
            source_record_id=row.require(a.id),
            person=PersonRef(self.system, row.require(a.person)),
            capability_id=capability,
            agreed_on=not_after(agreed_on, today, a.agreed_on, slack_days=1),
            due_on=values.optional_date(row.get(a.due_on), a.due_on),
            completed_on=(
                not_after(completed_on, today, a.completed_on, slack_days=1)
                if completed_on
                else None
            ),
            status=status,
            observation_record_id=row.get(a.report_id) or None,
        )

    def _call(self, row: SourceRow) -> FieldInteraction:
        assert self.config.calls is not None  # noqa: S101 - only called for the calls stream
        k = self.config.calls.columns
        manager = row.get(k.manager)
        day = self.config.calls.values.parse_date(row.require(k.date), k.date)
        return FieldInteraction(
            source_record_id=row.require(k.id),
            rep=PersonRef(self.system, row.require(k.rep)),
            date=not_after(day, self.context.run_date, k.date, slack_days=1),
            channel=row.get(k.channel) or None,
            type=row.get(k.type) or None,
            status=row.get(k.status) or None,
            manager=PersonRef(self.system, manager) if manager else None,
        )
