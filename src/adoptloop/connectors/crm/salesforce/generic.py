"""The generic Salesforce profile, for orgs without Veeva CRM.

- Visits are Events (`OwnerId` = the rep, `ActivityDate` = the visit date); a co-visit is an
  EventRelation inviting another User (id prefix 005) to the event: that user rode along.
  An event and its relations change independently, so a changed relation rebuilds its event.
- Coaching reports are a custom object configured like Veeva's standard coaching report
  (see `ReportsMapper`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.crm.records import BadRow, Reuse, local_date
from adoptloop.connectors.crm.salesforce.config import VisitsStream
from adoptloop.connectors.crm.salesforce.query import Feed, Row
from adoptloop.connectors.crm.salesforce.records import (
    is_deleted,
    rejected,
    required,
    value,
    where,
)
from adoptloop.connectors.crm.salesforce.sync import Lookups, StreamMapper
from adoptloop.domain import Deleted, FieldInteraction, Item

USER_ID_PREFIX = "005"


class VisitsMapper(StreamMapper):
    stream = "visits"
    kind = "interaction"

    def __init__(self, spec: VisitsStream, context: ConnectorContext, timezone: str) -> None:
        self.spec = spec
        self.timezone = timezone
        self.reuse = Reuse(context.name)  # the people its rows name, made once
        self.event_fields = tuple(
            x for x in (spec.rep, spec.visit_date, spec.channel, spec.visit_type, spec.status) if x
        )
        self.relation_fields = (spec.relation_event, spec.relation_user)
        self.feeds = (
            Feed("events", spec.object, self.event_fields, spec.where),
            Feed(
                "relations",
                spec.relations_object,
                self.relation_fields,
                spec.relations_where,
                fetched_with="events",
            ),
        )

    def wanted(self) -> Mapping[str, Sequence[tuple[str, str | None]]]:
        base = "profile.visits"
        s = self.spec
        events = [
            (f"{base}.{k}", getattr(s, k))
            for k in ("rep", "visit_date", "channel", "visit_type", "status")
        ]
        relations = [(f"{base}.{k}", getattr(s, k)) for k in ("relation_event", "relation_user")]
        return {s.object: events, s.relations_object: relations}

    def changed(self, feed: Feed, rows: list[Row], lookups: Lookups) -> Iterator[Item]:
        s = self.spec
        if feed.name == "events":
            events = {str(r["Id"]): r for r in rows}
            affected = list(events)
        else:
            affected = list(
                dict.fromkeys(str(r[s.relation_event]) for r in rows if r.get(s.relation_event))
            )
            found = lookups.rows(
                s.object,
                ["SystemModstamp", "IsDeleted", *self.event_fields],
                "Id",
                affected,
                include_deleted=True,
                where=s.where,
            )
            events = {str(r["Id"]): r for r in found}
        invited: dict[str, list[str]] = {}
        for relation in lookups.rows(
            s.relations_object,
            self.relation_fields,
            s.relation_event,
            affected,
            include_deleted=False,
            where=s.relations_where,
        ):
            user = value(relation, s.relation_user)
            if user and user.startswith(USER_ID_PREFIX):
                invited.setdefault(str(relation[s.relation_event]), []).append(user)
        for event_id in affected:
            event = events.get(event_id)
            location = f"{s.object} {event_id}"
            if event is None or is_deleted(event) or not self._counted(event):
                yield Deleted("interaction", event_id, location=location)
                continue
            try:
                yield self.interaction(event, invited.get(event_id, []))
            except BadRow as exc:
                yield rejected(self.stream, s.object, event, exc)

    def hard_deleted(self, feed: Feed, ids: list[str]) -> Iterator[Item]:
        if feed.name == "events":
            for record_id in ids:
                yield Deleted("interaction", record_id, location=f"{feed.sobject} {record_id}")

    def _counted(self, event: Row) -> bool:
        if not self.spec.status or not self.spec.counted_statuses:
            return True
        return value(event, self.spec.status) in self.spec.counted_statuses

    def interaction(self, event: Row, invited: Sequence[str]) -> FieldInteraction:
        s = self.spec
        rep = required(event, s.rep)
        others = sorted(u for u in invited if u != rep)
        return FieldInteraction(
            source_record_id=str(event["Id"]),
            rep=self.reuse.person(rep),
            date=local_date(required(event, s.visit_date), self.timezone, s.visit_date),
            channel=value(event, s.channel),
            type=value(event, s.visit_type),
            status=value(event, s.status),
            manager=self.reuse.person(others[0]) if others else None,
            location=where(s.object, event),
        )
