"""Vault CRM rows -> domain records: users, calls with ride-alongs, survey coaching reports.

The rules are the Veeva profile's on Salesforce (connectors/crm/salesforce/veeva.py), with
Vault's names; the ratings, free text, dates and the survey coaching report itself are read by
the code both share (connectors/crm/records.py), so that one coaching report gives the same
record, and so the same statements, from either CRM:

- a visit is a parent call (`parent_call__v` empty) in a counted status; a manager rode along
  when a child call has `attendee_type__v = user__v` with the manager in `user__v`. A changed
  child rebuilds its parent; a parent deleted or not (or no longer) counted is a tombstone;
- a coaching report is a `survey_target__v` of object type `coaching_report__v`, its answers
  the `question_response__v` rows pointing at it; a changed answer rebuilds its report. Only
  reports in a counted status (completed) count: others (drafts, under review) are kept
  uncounted and give no statements. Answers are matched to the capability map by question id,
  then by question text.

Picklists come back as JSON arrays of value names (`["submitted__v"]`): the first value is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.crm.records import (
    BadRow,
    Reuse,
    RowReader,
    local_date,
    survey_fields,
    survey_observation,
)
from adoptloop.connectors.crm.vault.config import CallsStream, CoachingStream, UsersStream
from adoptloop.connectors.crm.vault.query import Feed, Row, parse_ts, quote
from adoptloop.connectors.crm.vault.sync import Lookups, StreamMapper
from adoptloop.domain import (
    Account,
    CoachingObservation,
    Deleted,
    FieldInteraction,
    Item,
    PersonRef,
    Rejected,
)


def value(row: Row, name: str | None) -> str | None:
    """A field as stripped text (a picklist's first value); None when unset or not configured;
    BadRow when it is an object or a nested array (a value of the wrong type)."""
    if not name:
        return None
    raw: Any = row.get(name)
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if raw is None:
        return None
    if isinstance(raw, dict | list):
        raise BadRow(f"{name}: expected a value, got a JSON {type(raw).__name__}")
    text = str(raw).strip()
    return text or None


ROWS = RowReader(value, parse_ts, id_field="id", modified_field="modified_date__v")
"""How Vault rows are read, for the rules both CRMs share."""
required = ROWS.required
optional_ts = ROWS.timestamp
where = ROWS.where
rejected = ROWS.rejected


def split(
    stream: str, object_name: str, rows: Sequence[Row], *names: str | None
) -> tuple[list[Row], list[Rejected]]:
    """The rows whose `names` fields are values, and quarantine entries for the others."""
    good: list[Row] = []
    bad: list[Rejected] = []
    for row in rows:
        try:
            for name in names:
                value(row, name)
        except BadRow as exc:
            bad.append(rejected(stream, object_name, row, exc))
            continue
        good.append(row)
    return good, bad


def _config_keys(base: str, model: Any) -> list[tuple[str, str | None]]:
    return [(f"{base}.{k}", v) for k, v in model.model_dump().items()]


# --- users ---------------------------------------------------------------------------------


class UsersMapper(StreamMapper):
    """user__sys -> Accounts; the pipeline matches them to HR records by the identity rules."""

    stream = "users"

    def __init__(self, spec: UsersStream, system: str) -> None:
        self.spec = spec
        self.system = system
        attributes = tuple(dict.fromkeys(r.attribute for r in spec.identity))
        self.feeds = (
            Feed("users", spec.object, (spec.status, *attributes), spec.where, deletable=False),
        )

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        rules = [
            (f"users.identity.{i}.attribute", r.attribute) for i, r in enumerate(self.spec.identity)
        ]
        return {self.spec.object: [("users.status", self.spec.status), *rules]}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:  # noqa: ARG002
        for row in rows:
            try:
                attributes = {
                    r.attribute: text
                    for r in self.spec.identity
                    if (text := value(row, r.attribute))
                }
                active = value(row, self.spec.status) in self.spec.active_statuses
            except BadRow as exc:
                yield rejected(self.stream, feed.object, row, exc)
                continue
            ref = PersonRef(self.system, str(row["id"]), attributes)
            yield Account(ref, active, location=where(feed.object, row))


# --- calls ---------------------------------------------------------------------------------


class CallsMapper(StreamMapper):
    stream = "calls"
    kind = "interaction"

    def __init__(self, spec: CallsStream, context: ConnectorContext, timezone: str) -> None:
        self.spec = spec
        self.timezone = timezone
        self.reuse = Reuse(context.name)  # the people its rows name, made once
        f = spec.fields
        self.call_fields = tuple(
            x for x in (f.rep, f.call_date, f.status, f.channel, f.call_type, f.parent) if x
        )
        self.feeds = (
            Feed(
                "calls",
                spec.object,
                (*self.call_fields, f.attendee_type, f.attendee_user),
                spec.where,
            ),
        )

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        return {self.spec.object: _config_keys("calls.fields", self.spec.fields)}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:
        """Each affected parent call rebuilt (or a tombstone). A malformed call is quarantined;
        a parent refused here, or one with a malformed ride-along child, is neither rebuilt
        nor deleted: what is stored of it stays until it reads well."""
        f = self.spec.fields
        rows, bad = split(self.stream, feed.object, rows, f.parent, f.status)
        yield from bad
        refused = {r.record_key for r in bad}
        parents = {str(r["id"]): r for r in rows if not value(r, f.parent)}
        affected = list(dict.fromkeys(value(r, f.parent) or str(r["id"]) for r in rows))
        missing = [i for i in affected if i not in parents]
        if missing:
            found, bad = split(
                self.stream,
                feed.object,
                lookups.rows(feed.object, self.call_fields, "id", missing),
                f.parent,
                f.status,
            )
            yield from bad
            refused.update(r.record_key for r in bad)
            parents.update((str(row["id"]), row) for row in found)
        managers: dict[str, str] = {}
        condition = f"{f.attendee_type} = {quote(self.spec.manager_attendee_type)}"
        children, bad = split(
            self.stream,
            feed.object,
            lookups.rows(
                feed.object, [f.parent, f.attendee_user], f.parent, affected, where=condition
            ),
            f.parent,
        )
        yield from bad
        for child in children:
            parent = value(child, f.parent)
            try:
                manager = value(child, f.attendee_user)
            except BadRow as exc:
                if parent and parent not in refused:
                    refused.add(parent)
                    yield Rejected(
                        self.stream,
                        parent,
                        f"{feed.object} {parent}",
                        f"ride-along {child.get('id')}: {exc}",
                    )
                continue
            if manager and parent:
                managers.setdefault(parent, manager)
        for parent_id in affected:
            if parent_id in refused:
                continue
            parent_row = parents.get(parent_id)
            location = f"{feed.object} {parent_id}"
            if (
                parent_row is None
                or value(parent_row, f.parent)
                or value(parent_row, f.status) not in self.spec.counted_statuses
            ):
                yield Deleted("interaction", parent_id, location=location)
                continue
            try:
                yield self.interaction(feed, parent_row, managers.get(parent_id))
            except BadRow as exc:
                yield rejected(self.stream, feed.object, parent_row, exc)

    def deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:
        # a deleted child cannot be traced to its parent any more; a deleted parent can
        for record_id in ids:
            yield Deleted("interaction", record_id, location=f"{feed.object} {record_id}")

    def interaction(self, feed: Feed, row: Row, manager: str | None) -> FieldInteraction:
        f = self.spec.fields
        return FieldInteraction(
            source_record_id=str(row["id"]),
            rep=self.reuse.person(required(row, f.rep)),
            date=local_date(required(row, f.call_date), self.timezone, f.call_date),
            channel=value(row, f.channel),
            type=value(row, f.call_type),
            status=value(row, f.status),
            manager=self.reuse.person(manager) if manager else None,
            location=where(feed.object, row),
        )


# --- coaching reports ----------------------------------------------------------------------


class CoachingMapper(StreamMapper):
    stream = "coaching_reports"
    kind = "observation"

    def __init__(self, spec: CoachingStream, context: ConnectorContext, timezone: str) -> None:
        self.spec = spec
        self.context = context
        self.timezone = timezone
        self.reuse = Reuse(context.name)  # the people and ratings its rows give, made once
        self.target_where = (
            None
            if spec.object_type is None
            else f"{spec.object_type_field} = {quote(spec.object_type)}"
        )
        self.target_fields, self.response_fields = survey_fields(spec)
        response_where = (
            None
            if spec.object_type is None
            else f"{spec.target_relationship}.{spec.object_type_field} = {quote(spec.object_type)}"
        )
        self.feeds = (
            Feed("targets", spec.object, self.target_fields, self.target_where),
            Feed("responses", spec.responses_object, self.response_fields, response_where),
        )

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        base = "coaching_reports"
        targets = _config_keys(f"{base}.fields", self.spec.fields)
        if self.spec.object_type is not None:
            targets.append((f"{base}.object_type_field", self.spec.object_type_field))
        responses = _config_keys(f"{base}.response_fields", self.spec.response_fields)
        return {self.spec.object: targets, self.spec.responses_object: responses}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:
        r = self.spec.response_fields
        if feed.name != "targets":
            rows, bad = split(self.stream, feed.object, rows, r.target)
            yield from bad
        if feed.name == "targets":
            targets = {str(row["id"]): row for row in rows}
            affected = list(targets)
        else:
            affected = list(dict.fromkeys(t for row in rows if (t := value(row, r.target))))
            found = lookups.rows(
                self.spec.object, self.target_fields, "id", affected, where=self.target_where
            )
            targets = {str(row["id"]): row for row in found}
        answers: dict[str, list[Row]] = {}
        found_answers, bad = split(
            self.stream,
            self.spec.responses_object,
            lookups.rows(self.spec.responses_object, self.response_fields, r.target, affected),
            r.target,
        )
        yield from bad
        for answer in found_answers:
            target = value(answer, r.target)
            if target:
                answers.setdefault(target, []).append(answer)
        for target_id in affected:
            target_row = targets.get(target_id)
            if target_row is None:  # deleted since, or not a coaching report
                yield Deleted("observation", target_id, location=f"{self.spec.object} {target_id}")
                continue
            try:
                yield self.observation(target_row, answers.get(target_id, []))
            except BadRow as exc:
                yield rejected(self.stream, self.spec.object, target_row, exc)

    def deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:
        if feed.name == "targets":  # a deleted answer cannot be traced to its report
            for record_id in ids:
                yield Deleted("observation", record_id, location=f"{feed.object} {record_id}")

    def observation(self, target: Row, answers: Sequence[Row]) -> CoachingObservation:
        """The answers in record id order, so that a later answer to one item wins the same
        way on every read."""
        ordered = sorted(answers, key=lambda a: str(a.get("id", "")))
        return survey_observation(
            self.spec,
            target,
            ordered,
            rows=ROWS,
            context=self.context,
            timezone=self.timezone,
            reuse=self.reuse,
        )
