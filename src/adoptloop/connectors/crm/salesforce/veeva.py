"""The Veeva CRM profile: calls with ride-alongs, and advanced (survey-based) coaching reports.

A visit is a parent call (`Parent_Call_vod__c` empty) in a counted status (`Submitted_vod`).
A manager rode along when one of its child calls has `Attendee_Type_vod__c = 'User_vod'`,
with the manager in `User_vod__c`. Parent and children change independently (a ride-along
child may be added, or synced from an iPad, days after the parent), so a changed child makes
the connector rebuild its parent: for each page the affected parents are re-read with all
their ride-along children, and one FieldInteraction per parent is emitted. A parent that is
deleted, or not (or no longer) submitted, becomes a tombstone.

An advanced coaching report is a `Survey_Target_vod__c` of the coaching record type with its
answers in `Question_Response_vod__c`; an answer changed later makes the report be rebuilt the
same way. Answers are matched to the capability map by question id, then by question text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.crm.records import (
    BadRow,
    Reuse,
    local_date,
    survey_fields,
    survey_observation,
)
from adoptloop.connectors.crm.salesforce.config import AdvancedCoachingStream, CallsStream
from adoptloop.connectors.crm.salesforce.query import Feed, Row, quote
from adoptloop.connectors.crm.salesforce.records import (
    ROWS,
    is_deleted,
    rejected,
    required,
    value,
    where,
)
from adoptloop.connectors.crm.salesforce.sync import Lookups, StreamMapper
from adoptloop.domain import CoachingObservation, Deleted, FieldInteraction, Item


def _affected(rows: Sequence[Row], parent_of: str | None) -> list[str]:
    """Record ids of the parents a page touches, in page order."""
    ids = [str(r.get(parent_of) or r["Id"]) if parent_of else str(r["Id"]) for r in rows]
    return list(dict.fromkeys(ids))


class CallsMapper(StreamMapper):
    stream = "calls"
    kind = "interaction"

    def __init__(self, spec: CallsStream, context: ConnectorContext, timezone: str) -> None:
        self.spec = spec
        self.timezone = timezone
        self.reuse = Reuse(context.name)  # the people its rows name, made once
        f = spec.fields
        self.call_fields = tuple(
            x
            for x in (
                f.rep,
                f.call_date,
                f.call_datetime,
                f.status,
                f.channel,
                f.call_type,
                f.territory,
                f.parent,
            )
            if x
        )
        self.feeds = (
            Feed(
                "calls",
                spec.object,
                (*self.call_fields, f.attendee_type, f.attendee_user),
                spec.where,
                backfill_where=f"{f.parent} = null" if f.parent else None,
            ),
        )

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        base = "profile.calls.fields"
        f = self.spec.fields
        return {self.spec.object: [(f"{base}.{k}", v) for k, v in f.model_dump().items()]}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:
        f = self.spec.fields
        parents = {str(r["Id"]): r for r in rows if not r.get(f.parent)}
        affected = _affected(rows, f.parent)
        missing = [i for i in affected if i not in parents]
        for row in lookups.rows(
            feed.sobject,
            ["SystemModstamp", "IsDeleted", *self.call_fields],
            "Id",
            missing,
            include_deleted=True,
        ):
            parents[str(row["Id"])] = row
        managers: dict[str, str] = {}
        condition = f"{f.attendee_type} = {quote(self.spec.manager_attendee_type)} AND {f.attendee_user} != null"
        for child in lookups.rows(
            feed.sobject,
            [f.parent, f.attendee_user],
            f.parent,
            affected,
            include_deleted=False,
            where=condition,
        ):
            managers.setdefault(str(child[f.parent]), str(child[f.attendee_user]))
        for parent_id in affected:
            parent = parents.get(parent_id)
            location = f"{feed.sobject} {parent_id}"
            if parent is None or is_deleted(parent) or parent.get(f.parent):
                # gone for good, in the recycle bin, or not a parent call at all
                yield Deleted("interaction", parent_id, location=location)
                continue
            if value(parent, f.status) not in self.spec.counted_statuses:
                yield Deleted("interaction", parent_id, location=location)  # not a visit (yet)
                continue
            try:
                yield self.interaction(feed, parent, managers.get(parent_id))
            except BadRow as exc:
                yield rejected(self.stream, feed.sobject, parent, exc)

    def hard_deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:
        # a hard-deleted child cannot be traced to its parent any more; a deleted parent can
        for record_id in ids:
            yield Deleted("interaction", record_id, location=f"{feed.sobject} {record_id}")

    def interaction(self, feed: Feed, row: Row, manager: str | None) -> FieldInteraction:
        f = self.spec.fields
        raw_date = value(row, f.call_date) or value(row, f.call_datetime)
        if raw_date is None:
            raise BadRow(f"{f.call_date} is empty")
        territory = value(row, f.territory)
        return FieldInteraction(
            source_record_id=str(row["Id"]),
            rep=self.reuse.person(required(row, f.rep)),
            date=local_date(raw_date, self.timezone, f.call_date),
            channel=value(row, f.channel),
            type=value(row, f.call_type),
            status=value(row, f.status),
            manager=self.reuse.person(manager) if manager else None,
            location=where(feed.sobject, row) + (f" (territory {territory})" if territory else ""),
        )


class AdvancedReportsMapper(StreamMapper):
    stream = "advanced_coaching_reports"
    kind = "observation"

    def __init__(
        self, spec: AdvancedCoachingStream, context: ConnectorContext, timezone: str
    ) -> None:
        self.spec = spec
        self.context = context
        self.timezone = timezone
        self.reuse = Reuse(context.name)  # the people and ratings its rows give, made once
        self.target_where = (
            None
            if spec.record_type is None
            else f"RecordType.DeveloperName = {quote(spec.record_type)}"
        )
        self.target_fields, self.response_fields = survey_fields(spec)
        response_where = (
            None
            if spec.record_type is None
            else f"{spec.target_relationship}.RecordType.DeveloperName = {quote(spec.record_type)}"
        )
        self.feeds = (
            Feed("targets", spec.object, self.target_fields, self.target_where),
            Feed(
                "responses",
                spec.responses_object,
                self.response_fields,
                response_where,
                fetched_with="targets",
            ),
        )

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        base = "profile.advanced_coaching_reports"
        targets = [(f"{base}.fields.{k}", v) for k, v in self.spec.fields.model_dump().items()]
        if self.spec.record_type is not None:
            targets.append((f"{base}.record_type", "RecordType.DeveloperName"))
        responses = [
            (f"{base}.response_fields.{k}", v)
            for k, v in self.spec.response_fields.model_dump().items()
        ]
        responses.append((f"{base}.target_relationship", f"{self.spec.target_relationship}.Id"))
        return {self.spec.object: targets, self.spec.responses_object: responses}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:
        r = self.spec.response_fields
        if feed.name == "targets":
            targets = {str(row["Id"]): row for row in rows}
            affected = list(targets)
        else:
            affected = list(dict.fromkeys(str(row[r.target]) for row in rows if row.get(r.target)))
            found = lookups.rows(
                self.spec.object,
                ["SystemModstamp", "IsDeleted", *self.target_fields],
                "Id",
                affected,
                include_deleted=True,
                where=self.target_where,
            )
            targets = {str(row["Id"]): row for row in found}
        answers: dict[str, list[Row]] = {}
        for answer in lookups.rows(
            self.spec.responses_object,
            self.response_fields,
            r.target,
            affected,
            include_deleted=False,
        ):
            answers.setdefault(str(answer[r.target]), []).append(answer)
        for target_id in affected:
            target = targets.get(target_id)
            location = f"{self.spec.object} {target_id}"
            if target is None or is_deleted(target):
                yield Deleted("observation", target_id, location=location)
                continue
            try:
                yield self.observation(target, answers.get(target_id, []))
            except BadRow as exc:
                yield rejected(self.stream, self.spec.object, target, exc)

    def hard_deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:
        # a hard-deleted answer cannot be traced to its report: the sync rebuilds every report
        if feed.name == "targets":
            for record_id in ids:
                yield Deleted("observation", record_id, location=f"{feed.sobject} {record_id}")

    def observation(self, target: Row, answers: Sequence[Row]) -> CoachingObservation:
        return survey_observation(
            self.spec,
            target,
            answers,
            rows=ROWS,
            context=self.context,
            timezone=self.timezone,
            reuse=self.reuse,
        )
