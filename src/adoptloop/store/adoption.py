"""The adoption states' SQL: each person's inputs, streamed, and the rows the pass writes.

adoption/compute.py runs the pass (the state machine and the rows are its business); this
module reads and writes for it:
- `person_inputs` streams every person's HR rows, completions and counted ratings, one person
  at a time, in the store's hr_id order;
- `adoption_states` (the current state as of the last run): upserts, tombstones, the people
  whose rows can have changed since the last computation, the rows that are no longer
  produced, and the bookmark (as-of date and basis) of the last computation in `meta`;
- `adoption_scratch`: the rows of one ad-hoc computation, deleted after;
- the causal estimates last fitted (adoption/estimates.py), kept in `meta` with the digest of
  their inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    Connection,
    Select,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    union,
)

from adoptloop.store import bulk, records, schema

SOURCE = "adoption"  # the `source` of every adoption_states row
_IN_CHUNK = 1000  # keys per IN (...) and rows per tombstoning statement
_ONLY_CHUNK = 500  # people per input query when only some are recomputed


class HRRow(NamedTuple):
    """One effective-dated HR row, as far as adoption needs it: when it holds (valid_to is
    EXCLUSIVE, as the people table keeps it), whether it employs, the role and the group."""

    valid_from: date
    valid_to: date | None
    role: str
    region: str | None
    manager_hr_id: str | None
    status: str
    hire_date: date | None
    termination_date: date | None
    team: str | None = None  # the HR team (None: not given; `--by team` takes the manager's)


HR_COLUMNS = (
    "valid_from",
    "valid_to",
    "role",
    "region",
    "manager_hr_id",
    "status",
    "hire_date",
    "termination_date",
    "team",
)


def hr_rows(conn: Connection, only: Sequence[str] | None = None) -> Iterator[tuple[str, HRRow]]:
    """(hr_id, row) of every HR row (with `only`, of those people), by hr_id then valid_from,
    streamed."""
    p = schema.people
    query = (
        select(p.c.hr_id, *(p.c[c] for c in HR_COLUMNS))
        .order_by(p.c.hr_id, p.c.valid_from)
        .execution_options(yield_per=5000)
    )
    if only is None:
        for hr_id, *values in conn.execute(query):
            yield hr_id, HRRow(*values)
        return
    ids = sorted(set(only))
    for offset in range(0, len(ids), _ONLY_CHUNK):
        chunk = query.where(p.c.hr_id.in_(ids[offset : offset + _ONLY_CHUNK]))
        for hr_id, *values in conn.execute(chunk):
            yield hr_id, HRRow(*values)


# One counted rating of the person (on a submitted, not deleted visit on or before D):
# (capability id, visit date, visit id, scaled value), a plain tuple (~1M of them at 50,000
# reps: no object of a class of its own per rating)
RatingInput = tuple[str, date, str, float]


@dataclass(frozen=True, slots=True)
class PersonInputs:
    """Everything one person's adoption rows are computed from."""

    hr_id: str
    posts: list[HRRow]  # by valid_from
    completions: list[tuple[str, date]]  # (module, day of its earliest completed/passed one)
    ratings: list[RatingInput]  # by capability, visit date, visit id, item


def person_inputs(
    conn: Connection, as_of: date, only: Sequence[str] | None = None
) -> Iterator[PersonInputs]:
    """Per person (in the store's hr_id order), their inputs; with `only`, just those people
    (taken _ONLY_CHUNK at a time). Completions are not cut at `as_of` (the caller decides).

    Streams merged by person: only one person's HR rows, completions and ratings are held at a
    time. Every stream is ordered by hr_id by the database, and the driver lists every hr_id
    any of them holds, so they are walked by equality alone (whatever the collation).
    """
    if only is None:
        yield from _merged(conn, as_of, None)
        return
    ids = sorted(set(only))
    for offset in range(0, len(ids), _ONLY_CHUNK):
        yield from _merged(conn, as_of, ids[offset : offset + _ONLY_CHUNK])


_FIRST = itemgetter(0)


class _Days(dict[Any, date]):
    """The date of each value a driver gives for one (the ISO text SQLite stores, or a date),
    converted once."""

    def __missing__(self, value: Any) -> date:
        day = value if isinstance(value, date) else date.fromisoformat(value)
        self[value] = day
        return day


class _Stream:
    """Rows of one query ordered by a person key (their first column), taken a person at a
    time (grouped by itertools, not by a Python step per row)."""

    __slots__ = ("_groups", "_head")

    def __init__(self, result: Iterable[Sequence[Any]]) -> None:
        self._groups = groupby(result, key=_FIRST)
        self._head = next(self._groups, None)

    def take(self, key: str) -> list[Any]:
        """The rows of `key` at the head of the stream (keys come in the driver's order)."""
        head = self._head
        if head is None or head[0] != key:
            return []
        rows = list(head[1])
        self._head = next(self._groups, None)
        return rows


def _merged(conn: Connection, as_of: date, ids: list[str] | None) -> Iterator[PersonInputs]:
    p, c, o = schema.people, schema.completions, schema.observations

    def among(query: Select[Any], column: Any) -> Select[Any]:
        return query if ids is None else query.where(column.in_(ids))

    keys = union(
        among(select(p.c.hr_id.label("k")), p.c.hr_id),
        among(select(c.c.hr_id.label("k")), c.c.hr_id),
        among(select(o.c.observed_hr_id.label("k")), o.c.observed_hr_id),
    ).subquery()
    driver = conn.execute(select(keys.c.k).order_by(keys.c.k).execution_options(yield_per=5000))
    people = _Stream(
        conn.execute(
            among(select(p.c.hr_id, *(p.c[c] for c in HR_COLUMNS)), p.c.hr_id)
            .order_by(p.c.hr_id, p.c.valid_from)
            .execution_options(yield_per=5000)
        )
    )
    # the driver's rows: no Row each (~200,000 completions at 50,000 reps; their completed_at
    # text as stored, which _completion_day takes), nor for the ratings (~1M; their visit
    # dates converted once per day, _Days)
    completions = _Stream(bulk.driver_rows(conn, among(_trained_query(), c.c.hr_id)))
    ratings = _Stream(bulk.driver_rows(conn, among(_ratings_query(as_of), o.c.observed_hr_id)))
    days = _Days()
    for hr_id in driver.scalars():
        yield PersonInputs(
            hr_id,
            [HRRow(*row[1:]) for row in people.take(hr_id)],
            [
                (module_id, _completion_day(completed_at))
                for _, module_id, completed_at in completions.take(hr_id)
            ],
            # by capability (a stable sort: each capability's ratings stay in the read's
            # visit date, visit id, item order), see _ratings_query
            sorted(
                [
                    (cap, days[day], visit, scaled)
                    for _, cap, day, visit, scaled in ratings.take(hr_id)
                ],
                key=_FIRST,
            ),
        )


def first_completions(conn: Connection) -> Iterator[tuple[str, str, date]]:
    """(hr_id, module, day) of each person's earliest completed/passed completion of each
    module (not cut at any as-of date), by hr_id then module, streamed."""
    for hr_id, module_id, completed_at in conn.execute(_trained_query()):
        yield hr_id, module_id, _completion_day(completed_at)


def _completion_day(completed_at: str) -> date:
    """trained_at's day is the UTC calendar day of completed_at (stored as ISO 8601 UTC):
    DESIGN.md puts windows on local *visit* dates but gives the LMS no zone."""
    return date.fromisoformat(completed_at[:10])


def _trained_query() -> Select[Any]:
    """Per (hr_id, module): the earliest completed/passed completion, by hr_id."""
    c = schema.completions
    return (
        select(c.c.hr_id, c.c.module_id, func.min(c.c.completed_at))
        .where(and_(c.c.status != "failed", c.c.deleted.is_(False)))
        .group_by(c.c.hr_id, c.c.module_id)
        .order_by(c.c.hr_id, c.c.module_id)
        .execution_options(yield_per=5000)
    )


def _ratings_query(as_of: date) -> Select[Any]:
    """Counted ratings, in (rep, visit date, visit id, item) order (the caller puts each
    rep's in capability order). Those on capabilities no longer in the map (a stored rating
    may name one since removed from it) are skipped by the caller: a capability filter here
    leads SQLite to scan every rating by capability instead of taking a few reps' visits by
    the rep index. Nor is the capability in the ORDER BY: with it, SQLite read every rating
    by the capability index and sorted all of them at once (2.4 CPU-s at 50,000 reps, ~0.9M
    ratings); without it, it walks the visits by the rep index and sorts only each rep's
    visits of one day (1.8 CPU-s)."""
    r, o = schema.ratings, schema.observations
    return (
        select(o.c.observed_hr_id, r.c.capability_id, o.c.visit_date, o.c.record_id, r.c.scaled)
        .join(o, and_(o.c.source == r.c.source, o.c.record_id == r.c.record_id))
        .where(
            and_(
                o.c.counted.is_(True),
                o.c.deleted.is_(False),
                o.c.visit_date <= as_of,
            )
        )
        .order_by(o.c.observed_hr_id, o.c.visit_date, o.c.record_id, r.c.item)
        # on the statement, not the connection: Connection.execution_options() changes the
        # caller's connection in place and would stream every later query on it
        .execution_options(yield_per=5000)
    )


# --- adoption_scratch ----------------------------------------------------------------------------


def insert_scratch(conn: Connection, computation: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add rows to one ad-hoc computation."""
    conn.execute(
        schema.adoption_scratch.insert(), [{**r, "computation": computation} for r in rows]
    )


def delete_scratch(conn: Connection, computation: str) -> None:
    """Remove the rows of one ad-hoc computation."""
    table = schema.adoption_scratch
    conn.execute(delete(table).where(table.c.computation == computation))


# --- adoption_states -----------------------------------------------------------------------------


# A states row's fields as adoption.compute makes them: the rep x capability columns, in the
# schema's order (those of adoption_scratch but its computation), as plain strings (a column's
# name is a str subclass, which orjson does not take as a key)
STATE_FIELDS = tuple(
    str(c.name) for c in schema.adoption_scratch.columns if c.name != "computation"
)
# What `write_states` takes of each row, in this order: a tuple per row, no mapping
STATE_COLUMNS = ("source", "record_id", *STATE_FIELDS, "as_of", "digest", "deleted")
_RECORD_ID = STATE_COLUMNS.index("record_id")
_DIGEST = STATE_COLUMNS.index("digest")
# an update sets every column but the key (source, record_id), as records' upserts do
_UPDATED = [c for c in STATE_COLUMNS if c not in ("source", "record_id")]


def write_states(
    conn: Connection, rows: Sequence[tuple[Any, ...]], *, new: bool = False
) -> records.WriteCounts:
    """Insert new rows and update those whose digest changed, the rest left alone (a later
    row of the batch with the same record id wins), as store.records.upsert_source_rows does
    with rows as mappings: here each row is a tuple of STATE_COLUMNS' values with its digest
    (adoption.compute.state_row: a change in the volatile fields alone is none). `new`: none
    of the rows is stored yet (see `no_states`), so they are only inserted."""
    counts = records.WriteCounts()
    if not rows:
        return counts
    prepared = {row[_RECORD_ID]: row for row in rows}
    t = schema.adoption_states
    if new:
        inserts, updates = list(prepared.values()), []
    else:
        found = bulk.rows_in(
            conn, t, ["record_id", "digest"], "record_id", list(prepared), equal={"source": SOURCE}
        )
        stored = dict(found)
        inserts = [row for key, row in prepared.items() if key not in stored]
        updates = [
            row for key, row in prepared.items() if key in stored and stored[key] != row[_DIGEST]
        ]
    if inserts:
        bulk.insert_tuples(conn, t, STATE_COLUMNS, inserts)
    if updates:
        take = itemgetter(*(STATE_COLUMNS.index(c) for c in _UPDATED))
        bulk.update_tuples(
            conn,
            t,
            (t.c.source == bindparam("_source")) & (t.c.record_id == bindparam("_rid")),
            _UPDATED,
            [*(f"_{c}" for c in _UPDATED), "_source", "_rid"],
            [(*take(row), SOURCE, row[_RECORD_ID]) for row in updates],
        )
    counts.inserted = len(inserts)
    counts.updated = len(updates)
    counts.unchanged = len(prepared) - len(inserts) - len(updates)
    counts.inserted_keys = [row[_RECORD_ID] for row in inserts]
    counts.changed_keys = [*counts.inserted_keys, *(row[_RECORD_ID] for row in updates)]
    return counts


def no_states(conn: Connection) -> bool:
    """Whether adoption_states holds no row at all, live or tombstoned (a first computation)."""
    t = schema.adoption_states
    return not conn.execute(select(exists().where(t.c.source == SOURCE))).scalar_one()


def tombstone_states(conn: Connection, record_ids: Sequence[str]) -> int:
    """Mark rows deleted (their statements get voided); returns how many were live."""
    gone = 0
    for offset in range(0, len(record_ids), _IN_CHUNK):
        gone += records.mark_deleted(
            conn, "adoption_states", SOURCE, record_ids[offset : offset + _IN_CHUNK]
        )
    return gone


def live_states(conn: Connection) -> int:
    """How many rows are live (not tombstoned)."""
    t = schema.adoption_states
    return int(
        conn.execute(
            select(func.count()).where(t.c.source == SOURCE, t.c.deleted.is_(False))
        ).scalar_one()
    )


def stale_among(conn: Connection, people: Sequence[str], produced: set[str]) -> list[str]:
    """Live rows of `people` whose record id is not in `produced`."""
    t = schema.adoption_states
    stale: list[str] = []
    for offset in range(0, len(people), _IN_CHUNK):
        query = select(t.c.record_id).where(
            t.c.source == SOURCE,
            t.c.deleted.is_(False),
            t.c.hr_id.in_(people[offset : offset + _IN_CHUNK]),
        )
        stale += [rid for rid in conn.execute(query).scalars() if rid not in produced]
    return sorted(stale)


def stale_states(conn: Connection, modules: Mapping[str, Sequence[str]], as_of: date) -> list[str]:
    """Live rows whose (rep, capability) is neither trained nor rated any more, by record id.

    `modules`: every mapped capability -> the modules that teach it. The same pairs
    `person_inputs` leads to, as an anti-join in the database: a counted rating on or before
    `as_of` of a mapped capability, or a completed/passed completion on or before `as_of` of a
    module teaching it. Stale rows are few (a rating removed, a capability dropped from the
    map), so the list is short.
    """
    s, r, o, c = schema.adoption_states, schema.ratings, schema.observations, schema.completions
    rated = (
        select(o.c.observed_hr_id.label("hr_id"), r.c.capability_id.label("capability_id"))
        .join(o, and_(o.c.source == r.c.source, o.c.record_id == r.c.record_id))
        .where(
            o.c.counted.is_(True),
            o.c.deleted.is_(False),
            o.c.visit_date <= as_of,
            r.c.capability_id.in_(list(modules)),
        )
    )
    trained = [
        select(c.c.hr_id, literal(capability, String).label("capability_id")).where(
            c.c.module_id.in_(list(teaching)),
            c.c.status != "failed",
            c.c.deleted.is_(False),
            func.substr(c.c.completed_at, 1, 10) <= as_of.isoformat(),
        )
        for capability, teaching in modules.items()
        if teaching
    ]
    live = (union(rated, *trained) if trained else rated).subquery()
    query = (
        select(s.c.record_id)
        .where(s.c.source == SOURCE, s.c.deleted.is_(False))
        .where(
            ~exists().where(live.c.hr_id == s.c.hr_id, live.c.capability_id == s.c.capability_id)
        )
        .order_by(s.c.record_id)
    )
    return list(conn.execute(query).scalars())


def changed_people(conn: Connection, since: date, as_of: date) -> list[str]:
    """Whose rows can differ from the computation as of `since`: people whose inputs were
    written since (adoption_dirty), and people the passing of time from `since` to `as_of`
    reaches: a completion or counted visit dated in (since, as_of] (not counted before), an
    adoption window closing in it (the cohort), an HR row's employment starting or ending in it
    (the group of a rep whose window is open, or none once they left). Nothing else in a row depends on the as-of date except
    `censored_days` and `as_of`, which are volatile (metrics use the as-of date itself)."""
    d, c, o, s, p = (
        schema.adoption_dirty,
        schema.completions,
        schema.observations,
        schema.adoption_states,
        schema.people,
    )
    queries: list[Select[Any]] = [select(d.c.hr_id.label("k"))]
    if as_of > since:
        queries += [
            select(c.c.hr_id.label("k")).where(
                func.substr(c.c.completed_at, 1, 10) > since.isoformat(),
                func.substr(c.c.completed_at, 1, 10) <= as_of.isoformat(),
            ),
            select(o.c.observed_hr_id.label("k")).where(
                o.c.visit_date > since, o.c.visit_date <= as_of
            ),
            select(s.c.hr_id.label("k")).where(
                s.c.source == SOURCE, s.c.window_end > since, s.c.window_end <= as_of
            ),
            # an HR row's employment starts or ends in it: the group (or no group, for a
            # leaver) of a rep whose window is open; a termination date is the last day
            # employed, so it ends employment the day after
            select(p.c.hr_id.label("k")).where(
                or_(
                    and_(p.c.valid_from > since, p.c.valid_from <= as_of),
                    and_(p.c.valid_to > since, p.c.valid_to <= as_of),
                    and_(p.c.hire_date > since, p.c.hire_date <= as_of),
                    and_(p.c.termination_date >= since, p.c.termination_date < as_of),
                )
            ),
        ]
    keys = union(*queries).subquery()
    return list(conn.execute(select(keys.c.k).order_by(keys.c.k)).scalars())


# --- the bookmark of the last computation ---------------------------------------------------------


def last_computation(conn: Connection) -> tuple[date, str] | None:
    """(as-of date, basis) of the last completed computation; None before the first."""
    return records.read_basis(conn, records.ADOPTION_BASIS_KEY)


def finish_computation(conn: Connection, as_of: date, basis: str) -> None:
    """Record a completed computation: its as-of date and basis; nobody is dirty any more."""
    conn.execute(delete(schema.adoption_dirty))
    records.write_basis(conn, records.ADOPTION_BASIS_KEY, as_of, basis)


# --- the causal estimates last fitted --------------------------------------------------------------


def kept_estimates(conn: Connection) -> dict[str, Any] | None:
    """The estimates kept by `keep_estimates`, None when there are none."""
    m = schema.meta
    value = conn.execute(
        select(m.c.value).where(m.c.key == records.ESTIMATES_KEY)
    ).scalar_one_or_none()
    if value is None:
        return None
    found: dict[str, Any] = orjson.loads(value)
    return found


def keep_estimates(conn: Connection, estimates: Mapping[str, Any]) -> None:
    """Keep these estimates (JSON-able: the rows, their basis and the fits they came from)."""
    records.put_meta(conn, records.ESTIMATES_KEY, orjson.dumps(estimates).decode())
