"""Writing one batch of a pull's records: people resolved, rows grouped by table, upserted.

`RecordWriter.add` resolves the people a record names (raising `Unresolved` for one nobody
matches: the pull parks the record, `Suppressed` for an erased person's: dropped, `UnknownRole`
for an HR row whose role the roles map does not know: quarantined) and keeps its row;
`write` upserts the rows of each table (`store/records.py`) and the observations' ratings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adoptloop.domain import (
    ERASED,
    Account,
    CoachingObservation,
    Completion,
    DevelopmentAction,
    FieldInteraction,
    Person,
    PersonRef,
    Rating,
    Record,
)
from adoptloop.mappings.roles import RoleMap, unknown_role_reason
from adoptloop.pipeline.identity import IdentityResolver
from adoptloop.store import records
from adoptloop.xapi.canonical import timestamp

if TYPE_CHECKING:
    from sqlalchemy import Connection


class Suppressed(Exception):
    """The record is about an erased person: it is dropped, not stored, parked or quarantined."""


class UnknownRole(Exception):
    """An HR row whose role or title the roles map does not know: quarantined (a row defect)."""


class Unresolved(Exception):
    def __init__(self, ref: PersonRef, role: str) -> None:
        super().__init__(
            f"unknown person: {ref.system} user {ref.external_id} ({role}) matches no HR record"
        )
        self.ref = ref
        self.role = role


def record_key(record: Record) -> str:
    if isinstance(record, Person):
        return record.hr_id
    if isinstance(record, Account):
        return record.ref.external_id
    return record.source_record_id


class RecordWriter:
    """Resolves people and groups one batch of records by table."""

    def __init__(
        self,
        conn: Connection,
        source: str,
        resolver: IdentityResolver,
        roles: RoleMap | None = None,
        *,
        fresh: dict[str, bool] | None = None,
    ) -> None:
        self.conn = conn
        # per table, whether it held none of the source's rows when the caller's read began
        # (None: unknown, as for parked records taken up); filled in as the read writes
        self.fresh = fresh
        self.source = source
        self.resolver = resolver
        self.roles = roles or RoleMap()
        self.people: list[Person] = []
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.ratings: dict[str, list[Rating]] = {}
        self.accepted_keys: list[str] = []
        self.accounts = Counter[str]()

    def _hr_id(self, ref: PersonRef, role: str, *, erasable: bool = False) -> str:
        """The HR id; an erased person raises Suppressed, or gives ERASED where only
        mentioned."""
        hr_id = self.resolver.resolve(self.conn, ref)
        if hr_id is None:
            raise Unresolved(ref, role)
        if hr_id == ERASED:
            if erasable:
                return ERASED
            raise Suppressed
        return hr_id

    def _row(self, table: str, values: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(values)

    def add(self, record: Record) -> None:
        if isinstance(record, Person):
            if self.resolver.suppression.person(record):
                raise Suppressed
            role = self.roles.role(record.role)
            if role is None:
                raise UnknownRole(unknown_role_reason(record.role))
            if record.manager_hr_id in self.resolver.suppression:
                record = replace(record, manager_hr_id=ERASED)
            self.people.append(replace(record, role=role))
        elif isinstance(record, Account):
            self._hr_id(record.ref, "account")
            self.accounts["matched"] += 1
        elif isinstance(record, Completion):
            self._row(
                "completions",
                {
                    "record_id": record.source_record_id,
                    "hr_id": self._hr_id(record.learner, "learner"),
                    "module_id": record.module_id,
                    "module_title": record.module_title,
                    "status": record.status,
                    "completed_at": timestamp(record.completed_at),
                    "score": record.score,
                },
            )
        elif isinstance(record, CoachingObservation):
            self._observation(record)
        elif isinstance(record, DevelopmentAction):
            self._row(
                "development_actions",
                {
                    "record_id": record.source_record_id,
                    "hr_id": self._hr_id(record.person, "person"),
                    "capability_id": record.capability_id,
                    "agreed_on": record.agreed_on,
                    "due_on": record.due_on,
                    "completed_on": record.completed_on,
                    "status": record.status,
                    "observation_record_id": record.observation_record_id,
                },
            )
        elif isinstance(record, FieldInteraction):
            self._row(
                "interactions",
                {
                    "record_id": record.source_record_id,
                    "hr_id": self._hr_id(record.rep, "rep"),
                    "date": record.date,
                    "channel": record.channel,
                    "type": record.type,
                    "status": record.status,
                    "manager_hr_id": (
                        self._hr_id(record.manager, "ride-along manager", erasable=True)
                        if record.manager
                        else None
                    ),
                },
            )
        self.accepted_keys.append(record_key(record))

    def _observation(self, record: CoachingObservation) -> None:
        observer = self._hr_id(record.observer, "observer", erasable=True)
        observed = self._hr_id(record.observed, "observed")
        self.ratings[record.source_record_id] = list(record.ratings)
        self._row(
            "observations",
            {
                "record_id": record.source_record_id,
                "observer_hr_id": observer,
                "observed_hr_id": observed,
                "visit_date": record.visit_date,
                "timezone": record.timezone,
                "status": record.status,
                "counted": record.counted,
                "submitted_at": timestamp(record.submitted_at) if record.submitted_at else None,
                "modified_at": timestamp(record.modified_at) if record.modified_at else None,
                "has_next_step": record.has_next_step,
                "names_capability": record.names_capability,
                "word_count": record.word_count,
            },
        )

    def _fresh(self, table_name: str) -> bool:
        """Whether the table held none of the source's rows when the read began: asked when
        the read first writes it (nothing but this read writes the source's rows meanwhile)."""
        if self.fresh is None:
            return False
        known = self.fresh.get(table_name)
        if known is None:
            known = self.fresh[table_name] = not records.holds_rows(
                self.conn, table_name, self.source
            )
        return known

    def write(self) -> records.WriteCounts:
        total = records.WriteCounts()
        total.unchanged += self.accounts["matched"]
        if self.people:
            # listed again after a snapshot export had closed them: that closing is undone
            records.reopen_snapshot_closed(self.conn, [p.hr_id for p in self.people])
            total.add(records.upsert_people(self.conn, self.people))
        for table_name, rows in self.rows.items():
            extra = None
            if table_name == "observations":
                extra = {rid: records.ratings_digest(rs) for rid, rs in self.ratings.items()}
            written = records.upsert_source_rows(
                self.conn,
                table_name,
                self.source,
                rows,
                extra_digest=extra,
                fresh=self._fresh(table_name),
            )
            if table_name == "observations":
                changed = set(written.changed_keys)
                records.replace_ratings(
                    self.conn,
                    self.source,
                    {rid: rs for rid, rs in self.ratings.items() if rid in changed},
                    # the ratings table held none of the source's rows when the read began,
                    # and the read writes ratings only with their observation: an observation
                    # it inserts (stored before by no one) has none to delete
                    none_stored=set(written.inserted_keys) if self._fresh("ratings") else (),
                )
            total.add(written)
        return total
