"""Salesforce rows -> domain records, shared by both profiles: users and coaching reports.

Free text (comments, next steps) is reduced here to a word count, whether a capability is
named and whether a next step was agreed; the text itself never leaves this module. Rejected
items carry the object and record id only: no free text, no customer (HCP) identifiers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.crm.records import (
    BadRow,
    Reuse,
    RowReader,
    checked_ratings,
    local_date,
    parse_ts,
    text_features,
)
from adoptloop.connectors.crm.salesforce.config import CoachingReportsStream, UsersStream
from adoptloop.connectors.crm.salesforce.query import Feed, Row
from adoptloop.connectors.crm.salesforce.sync import Lookups, StreamMapper
from adoptloop.domain import (
    Account,
    CoachingObservation,
    Deleted,
    Item,
    PersonRef,
)


def value(row: Row, field: str | None) -> str | None:
    """A field as stripped text; None when unset, empty, or the field is not configured."""
    if not field:
        return None
    raw = row.get(field)
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def is_deleted(row: Row) -> bool:
    return row.get("IsDeleted") in (True, "true")


ROWS = RowReader(value, parse_ts, id_field="Id", modified_field="SystemModstamp")
"""How Salesforce rows are read, for the rules both CRMs share."""
required = ROWS.required
optional_ts = ROWS.timestamp
where = ROWS.where
rejected = ROWS.rejected


# --- users ---------------------------------------------------------------------------------


class UsersMapper(StreamMapper):
    """Salesforce Users -> Accounts; the pipeline matches them to HR records by the rules."""

    stream = "users"

    def __init__(self, spec: UsersStream, system: str) -> None:
        self.spec = spec
        self.system = system
        attributes = tuple(dict.fromkeys(r.attribute for r in spec.identity))
        self.feeds = (
            Feed("users", spec.object, (spec.active, *attributes), spec.where, deletable=False),
        )

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        rules = [
            (f"users.identity.{i}.attribute", r.attribute) for i, r in enumerate(self.spec.identity)
        ]
        return {self.spec.object: [("users.active", self.spec.active), *rules]}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:  # noqa: ARG002
        for row in rows:
            attributes = {
                r.attribute: text for r in self.spec.identity if (text := value(row, r.attribute))
            }
            ref = PersonRef(self.system, str(row["Id"]), attributes)
            active = row.get(self.spec.active) not in (False, "false")
            yield Account(ref, active, location=where(feed.sobject, row))


# --- coaching reports (Veeva standard, or a custom object) --------------------------------


class ReportsMapper(StreamMapper):
    """One report row -> one CoachingObservation; ratings are fields of the report."""

    stream = "coaching_reports"
    kind = "observation"

    def __init__(
        self, spec: CoachingReportsStream, context: ConnectorContext, timezone: str
    ) -> None:
        self.spec = spec
        self.context = context
        self.timezone = timezone
        self.reuse = Reuse(context.name)  # the people and ratings its rows give, made once
        f = spec.fields
        items = self.context.capabilities.spec.coaching_items
        self.rating_fields = tuple(
            f.ratings if f.ratings is not None else [i for i in items if i.endswith("__c")]
        )
        selected = (
            f.observer,
            f.observed,
            f.visit_date,
            f.status,
            *([f.submitted_at] if f.submitted_at else []),
            *self.rating_fields,
            *f.comments,
            *f.next_steps,
        )
        self.feeds = (Feed("reports", spec.object, selected, spec.where),)

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        base = "profile.coaching_reports.fields"
        f = self.spec.fields
        named: list[tuple[str, str | None]] = [
            (f"{base}.{key}", getattr(f, key))
            for key in ("observer", "observed", "visit_date", "status", "submitted_at")
        ]
        named += [(f"{base}.ratings (or capability map)", r) for r in self.rating_fields]
        named += [(f"{base}.comments", c) for c in f.comments]
        named += [(f"{base}.next_steps", c) for c in f.next_steps]
        return {self.spec.object: named}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:  # noqa: ARG002
        for row in rows:
            if is_deleted(row):
                yield Deleted("observation", str(row["Id"]), location=where(feed.sobject, row))
                continue
            try:
                yield self.observation(feed, row)
            except BadRow as exc:
                yield rejected(self.stream, feed.sobject, row, exc)

    def hard_deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:
        for record_id in ids:
            yield Deleted("observation", record_id, location=f"{feed.sobject} {record_id}")

    def observation(self, feed: Feed, row: Row) -> CoachingObservation:
        f = self.spec.fields
        capabilities = self.context.capabilities
        status = required(row, f.status)
        words, names = text_features([value(row, c) for c in f.comments], capabilities)
        return CoachingObservation(
            source_record_id=str(row["Id"]),
            observer=self.reuse.person(required(row, f.observer)),
            observed=self.reuse.person(required(row, f.observed)),
            visit_date=local_date(required(row, f.visit_date), self.timezone, f.visit_date),
            timezone=self.timezone,
            status=status,
            counted=status in self.spec.counted_statuses,
            submitted_at=optional_ts(row, f.submitted_at),
            modified_at=optional_ts(row, "SystemModstamp"),
            ratings=checked_ratings(
                [(r, row.get(r)) for r in self.rating_fields],
                capabilities,
                self.spec.rating_values,
                self.reuse,
            ),
            has_next_step=any(value(row, c) for c in f.next_steps),
            names_capability=names,
            word_count=words,
            location=where(feed.sobject, row),
        )
