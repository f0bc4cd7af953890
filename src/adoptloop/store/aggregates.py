"""The adoption metrics kept between runs: contributions, their sums, and what to redo.

adoption/aggregates.py decides what a contribution is and how the sums are formed; this module
reads and writes the tables (schema v8: metric_reps, metric_people, metric_cells, metric_km,
metric_dirty; v9: metric_ratings; v10: metric_visits) and the bookmark of the last update (meta key METRICS_BASIS_KEY).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import groupby
from operator import itemgetter
from sys import intern
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Date,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
    text,
)

from adoptloop.store import bulk, records, schema
from adoptloop.store.db import STREAM_CACHE_KIB

_CHUNK = 500  # keys per IN (...)

CELL_COUNTS = schema.METRIC_CELL_COUNTS
CellKey = tuple[str, str, str]  # (grouping, group, capability; "" = coaching coverage)
KmKey = tuple[str, str, str, str, int]  # (grouping, group, capability, kind "e"/"c", day)

REP_COLUMNS = tuple(c.name for c in schema.metric_reps.columns)
PERSON_COLUMNS = tuple(c.name for c in schema.metric_people.columns)
RatedDay = tuple[str, date, int]  # (capability, visit day, ratings)
_CONTRIBUTIONS = (
    schema.metric_reps,
    schema.metric_people,
    schema.metric_ratings,
    schema.metric_visits,
)


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for offset in range(0, len(items), _CHUNK):
        yield list(items[offset : offset + _CHUNK])


# --- the bookmark ---------------------------------------------------------------------------------


def last_update(conn: Connection) -> tuple[date, str] | None:
    """(as-of date, basis) of the last completed update; None before the first (or after
    forget_adoption_computation)."""
    return records.read_basis(conn, records.METRICS_BASIS_KEY)


def finish_update(conn: Connection, as_of: date, basis: str) -> None:
    """Record a completed update; nobody is dirty any more."""
    conn.execute(delete(schema.metric_dirty))
    records.write_basis(conn, records.METRICS_BASIS_KEY, as_of, basis)


def forget(conn: Connection) -> None:
    """Make the next update a full rebuild."""
    m = schema.meta
    conn.execute(delete(m).where(m.c.key == records.METRICS_BASIS_KEY))


def mark_dirty(conn: Connection, people: Sequence[str]) -> None:
    """Note that these people's adoption_states rows were recomputed."""
    t = schema.metric_dirty
    for chunk in _chunks(sorted(set(people))):
        known = set(conn.execute(select(t.c.hr_id).where(t.c.hr_id.in_(chunk))).scalars())
        bulk.insert_many(conn, t, ["hr_id"], [{"hr_id": i} for i in chunk if i not in known])


def due_people(conn: Connection, as_of: date) -> list[str]:
    """Whom an update to `as_of` redoes: the people marked dirty, and those whose coverage
    contribution may differ on `as_of` (valid_until on or before it)."""
    d, p = schema.metric_dirty, schema.metric_people
    dirty = set(conn.execute(select(d.c.hr_id)).scalars())
    moved = conn.execute(select(p.c.hr_id).where(p.c.valid_until <= as_of)).scalars()
    return sorted(dirty.union(moved))


# --- contributions ------------------------------------------------------------------------------


def everyone(conn: Connection) -> list[str]:
    """The hr_ids a full rebuild redoes: everyone with an HR row (a trained rep without one
    counts nowhere) or observed on a visit (their ratings count without one)."""
    p, o = schema.people, schema.observations
    hr = set(conn.execute(select(p.c.hr_id).distinct()).scalars())
    return sorted(hr.union(conn.execute(select(o.c.observed_hr_id).distinct()).scalars()))


def clear(conn: Connection) -> None:
    """Every contribution and sum (a full rebuild follows)."""
    for table in (*_CONTRIBUTIONS, schema.metric_cells, schema.metric_km):
        conn.execute(delete(table))


def contributions_of(
    conn: Connection, people: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[RatedDay]]:
    """The stored (metric_reps rows, metric_people rows) of `people`, and their metric_ratings
    summed per capability and day (rated_sums)."""
    r, p = schema.metric_reps, schema.metric_people
    reps: list[dict[str, Any]] = []
    persons: list[dict[str, Any]] = []
    for chunk in _chunks(people):
        reps += [dict(row._mapping) for row in conn.execute(select(r).where(r.c.hr_id.in_(chunk)))]
        persons += [
            dict(row._mapping) for row in conn.execute(select(p).where(p.c.hr_id.in_(chunk)))
        ]
    return reps, persons, rated_sums(conn, people)


def replace_contributions(
    conn: Connection,
    people: Sequence[str],
    reps: Sequence[Mapping[str, Any]],
    persons: Sequence[Mapping[str, Any]],
) -> None:
    """Delete every contribution of `people` (None: nobody), then insert `reps` and `persons`
    (their visits' are write_visits')."""
    for table in _CONTRIBUTIONS:
        for chunk in _chunks(people):
            conn.execute(delete(table).where(table.c.hr_id.in_(chunk)))
    bulk.insert_many(conn, schema.metric_reps, REP_COLUMNS, reps)
    bulk.insert_many(conn, schema.metric_people, PERSON_COLUMNS, persons)


def insert_contributions(
    conn: Connection, reps: Sequence[tuple[Any, ...]], persons: Sequence[Mapping[str, Any]]
) -> None:
    """Insert contributions of people who have none stored: `reps` tuples of REP_COLUMNS'
    values, `persons` metric_people rows."""
    bulk.insert_tuples(conn, schema.metric_reps, REP_COLUMNS, reps)
    bulk.insert_many(conn, schema.metric_people, PERSON_COLUMNS, persons)


def rated_sums(conn: Connection, people: Sequence[str] | None) -> list[RatedDay]:
    """The kept ratings (metric_ratings) of `people` (everyone: None) summed per capability
    and visit day, by the database."""
    d = schema.metric_ratings
    query = select(d.c.capability_id, d.c.day, func.sum(d.c.n)).group_by(d.c.capability_id, d.c.day)
    if people is None:
        return [(cap, day, int(n)) for cap, day, n in conn.execute(query)]
    out: dict[tuple[str, date], int] = {}
    for chunk in _chunks(people):
        for cap, day, n in conn.execute(query.where(d.c.hr_id.in_(chunk))):
            out[(cap, day)] = out.get((cap, day), 0) + int(n)
    return [(cap, day, n) for (cap, day), n in out.items()]


# A visit's days to submission and weekday, computed by the database: the submission stamp's
# date (text "YYYY-MM-DDTHH:MM:SSZ"; empty or NULL: not submitted) minus the visit date
_LAG = {
    "sqlite": "CAST(julianday(substr(o.submitted_at, 1, 10)) - julianday(o.visit_date) AS INTEGER)",
    "postgresql": "(CAST(NULLIF(substr(o.submitted_at, 1, 10), '') AS DATE) - o.visit_date)",
}
_WEEKDAY = {  # 0 Sunday .. 6 Saturday
    "sqlite": "CAST(strftime('%w', o.visit_date) AS INTEGER)",
    "postgresql": "CAST(EXTRACT(DOW FROM o.visit_date) AS INTEGER)",
}


_VISIT_COLUMNS = (
    "hr_id, source, record_id, observer_hr_id, day, lag, weekday, ratings, scaled_sum, top_box"
)
_READ = "observer_hr_id, lag, weekday, ratings, scaled_sum, top_box"  # what the statistics read


def _visits(conn: Connection, where: str) -> str:
    """The SELECT of the metric_visits rows (_VISIT_COLUMNS) of the counted, not deleted
    visits that also meet `where` (SQL on observations `o`; parameter :top the top-box level):
    one row per visit, computed by the database."""
    dialect = "sqlite" if conn.dialect.name == "sqlite" else "postgresql"
    return (
        "SELECT o.observed_hr_id AS hr_id, o.source, o.record_id, o.observer_hr_id,"
        f" o.visit_date AS day, {_LAG[dialect]} AS lag, {_WEEKDAY[dialect]} AS weekday,"
        " count(r.item) AS ratings, coalesce(sum(r.scaled), 0.0) AS scaled_sum,"
        " sum(CASE WHEN r.scaled >= :top THEN 1 ELSE 0 END) AS top_box"
        " FROM observations o LEFT JOIN ratings r"
        " ON r.source = o.source AND r.record_id = o.record_id"
        f" WHERE o.counted AND NOT o.deleted{where}"
        " GROUP BY o.source, o.record_id"
    )


_RATINGS_SELECT = (
    "SELECT o.observed_hr_id AS hr_id, r.capability_id AS capability_id, o.visit_date AS day,"
    " count(*) AS n"
    " FROM observations o JOIN ratings r ON r.source = o.source AND r.record_id = o.record_id"
    " WHERE o.counted AND NOT o.deleted{where}"
    " GROUP BY o.observed_hr_id, r.capability_id, o.visit_date"
)
_RATINGS_INTO = "INSERT INTO metric_ratings (hr_id, capability_id, day, n) "
_RATINGS = _RATINGS_INTO + _RATINGS_SELECT


def write_visits(conn: Connection, people: Sequence[str] | None, *, top_box: float) -> None:
    """Insert the contributions of the counted, not deleted visits (any date) that `people`
    (everyone: None) were observed on, each table in one INSERT ... SELECT per chunk of people
    (nothing goes through Python): metric_visits, a row per visit (its observer, day, weekday,
    days to submission, and its ratings' count, scaled sum and count at or above `top_box`),
    and metric_ratings, their ratings per capability and visit day."""
    visits = f"INSERT INTO metric_visits ({_VISIT_COLUMNS}) " + _visits(conn, "{where}")
    if people is None:
        conn.execute(text(visits.format(where="")), {"top": top_box})
        conn.execute(text(_RATINGS.format(where="")))
        return
    only = " AND o.observed_hr_id IN :people"
    expanding: BindParameter[Any] = bindparam("people", expanding=True)
    by_visit = text(visits.format(where=only)).bindparams(expanding)
    by_day = text(_RATINGS.format(where=only)).bindparams(expanding)
    for chunk in _chunks(people):
        conn.execute(by_visit, {"top": top_box, "people": chunk})
        conn.execute(by_day, {"people": chunk})


_STAGED = ("kept_visits", "kept_ratings")  # temporary tables of stage_visits' connection


def stage_visits(conn: Connection, *, top_box: float) -> None:
    """SQLite: write_visits' rows for everyone into two temporary tables of `conn`. A
    temporary table is the connection's own: filling it takes no write lock on the store, so
    this runs beside another connection's writes (the states pass's; its ~0.9M ratings per
    day at 50,000 reps are read and grouped here). `insert_staged_visits` on the same
    connection then copies them into the store."""
    for table in _STAGED:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table}")
    conn.execute(text("CREATE TEMP TABLE kept_visits AS " + _visits(conn, "")), {"top": top_box})
    conn.execute(text("CREATE TEMP TABLE kept_ratings AS " + _RATINGS_SELECT.format(where="")))


def staged_rated_sums(conn: Connection) -> list[RatedDay]:
    """The ratings of stage_visits' rows summed per capability and day: what rated_sums of
    everyone reads once insert_staged_visits copied them into metric_ratings (a rebuild's,
    cleared before), read from the temporary table before the copy takes the write lock."""
    query = text(
        "SELECT capability_id, day, sum(n) FROM temp.kept_ratings GROUP BY capability_id, day"
    ).columns(capability_id=String, day=Date, n=Integer)
    return [(cap, day, int(n)) for cap, day, n in conn.execute(query)]


# a part of stage_visits' rows: (temporary table, first rowid, last rowid)
StagedPart = tuple[str, int, int]


def staged_parts(conn: Connection, rows: int) -> list[StagedPart]:
    """stage_visits' rows in parts of at most `rows` rows (by rowid: the order they were made
    in), each for one insert_staged_visits: metric_visits' parts first."""
    parts: list[StagedPart] = []
    for table in _STAGED:
        last = conn.exec_driver_sql(f"SELECT max(rowid) FROM temp.{table}").scalar() or 0
        parts += [(table, first, first + rows - 1) for first in range(1, last + 1, rows)]
    return parts


def insert_staged_visits(conn: Connection, part: StagedPart) -> None:
    """Copy a part of stage_visits' rows (staged_parts') into metric_visits or metric_ratings:
    all parts together, what write_visits for everyone writes; `drop_staged` then drops
    them."""
    table, first, last = part
    into, columns = {
        "kept_visits": ("metric_visits", _VISIT_COLUMNS),
        "kept_ratings": ("metric_ratings", "hr_id, capability_id, day, n"),
    }[table]
    conn.exec_driver_sql(
        f"INSERT INTO {into} ({columns}) SELECT {columns} FROM temp.{table}"
        " WHERE rowid BETWEEN ? AND ?",
        (first, last),
    )


def drop_staged(conn: Connection) -> None:
    """Drop stage_visits' temporary tables."""
    for table in _STAGED:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table}")


def visits_of_period(
    conn: Connection, since: date, as_of: date, *, top_box: float
) -> Iterator[tuple[Any, ...]]:
    """visits_between's rows computed from the store's visits and ratings (no kept rows)."""
    query = text(
        f"SELECT {_READ}, count(*) FROM ("
        + _visits(conn, " AND o.visit_date > :since AND o.visit_date <= :as_of")
        + f") AS v GROUP BY {_READ}"
    ).bindparams(bindparam("since", type_=Date), bindparam("as_of", type_=Date))
    for row in conn.execute(query, {"top": top_box, "since": since, "as_of": as_of}):
        yield tuple(row)


def visits_between(conn: Connection, since: date, as_of: date) -> Iterator[tuple[Any, ...]]:
    """The kept visits (metric_visits) dated in (since, as_of], counted by what the rater
    statistics read of them: (observer, lag, weekday, ratings, scaled_sum, top_box, visits).
    Yielded as read: a 50,000-rep org's quarter is ~100,000 such rows, which its rater
    statistics sum per observer."""
    v = schema.metric_visits
    read = (v.c.observer_hr_id, v.c.lag, v.c.weekday, v.c.ratings, v.c.scaled_sum, v.c.top_box)
    query = select(*read, func.count()).where(v.c.day > since, v.c.day <= as_of).group_by(*read)
    for row in conn.execute(query):
        yield tuple(row)


def forget_person(conn: Connection, hr_id: str) -> None:
    """An erasure: every row naming the person, and every sum (the next run rebuilds them)."""
    clear(conn)
    conn.execute(delete(schema.metric_dirty).where(schema.metric_dirty.c.hr_id == hr_id))


# --- the sums -----------------------------------------------------------------------------------


def apply_cells(conn: Connection, delta: Mapping[CellKey, Sequence[int]]) -> None:
    """Add `delta` to metric_cells; a cell whose counts all reach 0 is removed. Only the
    cells of `delta` are read and written (an upsert each, bulk.add_tuples)."""
    t = schema.metric_cells
    keys = ("grouping", "grp", "capability_id")
    rows = [(*key, *change) for key, change in delta.items() if any(change)]
    bulk.add_tuples(conn, t, keys, CELL_COUNTS, rows)
    # only a cell something was taken from can have reached 0
    fell = [key for key, change in delta.items() if any(n < 0 for n in change)]
    _delete_keys(conn, t, keys, fell, and_(*(t.c[c] == 0 for c in CELL_COUNTS)))


def apply_km(conn: Connection, delta: Mapping[KmKey, int]) -> None:
    """Add `delta` to metric_km; a count reaching 0 is removed. Only the counts of `delta`
    are read and written (an upsert each, bulk.add_tuples)."""
    t = schema.metric_km
    keys = ("grouping", "grp", "capability_id", "kind", "day")
    bulk.add_tuples(conn, t, keys, ["n"], [(*key, n) for key, n in delta.items() if n])
    fell = [key for key, n in delta.items() if n < 0]
    _delete_keys(conn, t, keys, fell, t.c.n == 0)


def sum_contributions(
    conn: Connection,
    groupings: Sequence[str],
    coverage: Sequence[str],
    everyone: tuple[str, str],
) -> None:
    """Write metric_cells and metric_km (but the ratings per day) summed by the database from
    every kept contribution, into tables that hold none of those sums (a full rebuild): a
    trained rep counts in its group of each of `groupings` and in `everyone`'s (grouping,
    group), a person eligible for coaching (a region) in theirs of `coverage` and in
    everyone's. The same sums adoption.aggregates.Aggregates adds up a contribution at a
    time, without a Python step (nor an upsert of each sum) per contribution."""
    with _small_sorter(conn):
        _insert_sums(conn, groupings, coverage, everyone)


@contextmanager
def _small_sorter(conn: Connection) -> Iterator[None]:
    """SQLite: the connection's page cache (which is also what its sorter holds in memory
    before it spills: each GROUP BY sorts every contribution) at STREAM_CACHE_KIB for the
    block, as it was after it (at 50,000 reps ~5 MB of the stage's peak otherwise)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{STREAM_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(size or 0)}")


def _insert_sums(
    conn: Connection,
    groupings: Sequence[str],
    coverage: Sequence[str],
    everyone: tuple[str, str],
) -> None:
    r, p = schema.metric_reps, schema.metric_people
    cells, km = schema.metric_cells, schema.metric_km

    def number(flag: Any) -> Any:
        return func.sum(cast(flag, Integer))

    def by(table: Table, grouping: str) -> tuple[Any, Any, list[Any]]:
        """(grouping, group, the columns grouped by besides the capability)."""
        if grouping == everyone[0]:
            return literal(everyone[0], String), literal(everyone[1], String), []
        return literal(grouping, String), table.c[grouping], [table.c[grouping]]

    # constants written into the SQL, not bound: PostgreSQL matches a GROUP BY expression
    # with the selected one only when they are written the same, parameters and all
    dtp = r.c.days_to_proficient
    kind = case((dtp.is_(None), literal_column("'c'")), else_=literal_column("'e'"))
    day = case(
        (dtp.is_(None), _ordinal(conn, r.c.trained_at)),
        (dtp < literal_column("0"), literal_column("0")),
        else_=dtp,
    )
    for grouping in (*groupings, everyone[0]):
        name, group, keys = by(r, grouping)
        counts = (
            func.count(),
            number(r.c.in_cohort),
            number(r.c.observed),
            number(r.c.proficient),
            number(r.c.sustained),
            number(r.c.regressed),
            number(and_(r.c.in_cohort, r.c.sustained)),
            literal(0, Integer),
            literal(0, Integer),
        )
        reps = select(name, group, r.c.capability_id, *counts).group_by(*keys, r.c.capability_id)
        conn.execute(
            cells.insert().from_select(["grouping", "grp", "capability_id", *CELL_COUNTS], reps)
        )
        times = select(
            name, group, r.c.capability_id, kind.label("kind"), day.label("day"), func.count()
        ).group_by(*keys, r.c.capability_id, kind, day)
        conn.execute(
            km.insert().from_select(["grouping", "grp", "capability_id", "kind", "day", "n"], times)
        )
    for grouping in (*coverage, everyone[0]):
        name, group, keys = by(p, grouping)
        counts = (
            *(literal(0, Integer) for _ in CELL_COUNTS[:-2]),
            func.count(),
            number(p.c.visited),
        )
        persons = (
            select(name, group, literal("", String), *counts)
            .where(p.c.region.is_not(None))
            .group_by(*keys)
        )
        conn.execute(
            cells.insert().from_select(["grouping", "grp", "capability_id", *CELL_COUNTS], persons)
        )


def _ordinal(conn: Connection, day: Any) -> Any:
    """date.toordinal() of a date column, in SQL (day 1: 0001-01-01)."""
    if conn.dialect.name == "sqlite":
        return cast(func.julianday(day) - literal_column("1721424.5"), Integer)
    return day - literal_column("DATE '0001-01-01'") + literal_column("1")


def _delete_keys(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    keys: Sequence[Any],
    also: ColumnElement[bool],
) -> None:
    """DELETE the rows of `keys` (values of `columns`) where `also` holds."""
    if keys:
        where = [table.c[c] == bindparam(f"k{i}") for i, c in enumerate(columns)]
        conn.execute(
            delete(table).where(and_(*where), also),
            [{f"k{i}": v for i, v in enumerate(key)} for key in keys],
        )


def load_cells(
    conn: Connection, groupings: Sequence[str], *, coverage_only: bool = False
) -> dict[CellKey, list[int]]:
    """The sums of `groupings` (`coverage_only`: only their groups' coaching coverage cells,
    capability ""). The keys' names are interned: the driver makes a new string for every
    row's grouping, group and capability, and a 50,000-rep org's sums have ~44,000 cells with
    ~6,000 distinct names among them."""
    t = schema.metric_cells
    query = select(t.c.grouping, t.c.grp, t.c.capability_id, *(t.c[c] for c in CELL_COUNTS))
    if coverage_only:
        query = query.where(t.c.capability_id == "")
    return {
        (intern(grouping), intern(group), intern(cap)): [int(n) for n in counts]
        for grouping, group, cap, *counts in conn.execute(
            query.where(t.c.grouping.in_(list(groupings)))
        )
    }


def load_km(conn: Connection, groupings: Sequence[str]) -> dict[KmKey, int]:
    """Kaplan-Meier's counts of `groupings` (names interned, as load_cells'), all at once:
    for the ratings per day (grouping "rated", a few per capability and day); a grouping's
    survival curves are read one at a time (km_curves)."""
    t = schema.metric_km
    query = select(t.c.grouping, t.c.grp, t.c.capability_id, t.c.kind, t.c.day, t.c.n)
    return {
        (intern(grouping), intern(group), intern(cap), intern(kind), int(day)): int(n)
        for grouping, group, cap, kind, day, n in conn.execute(
            query.where(t.c.grouping.in_(list(groupings)))
        )
    }


KmCount = tuple[str, int, int]  # (kind "e"/"c", day, reps) of one curve's metric_km row


def km_curves(conn: Connection, grouping: str) -> Iterator[tuple[str, str, list[KmCount]]]:
    """Kaplan-Meier's counts of `grouping` one curve at a time: (group, capability, its
    rows' (kind, day, n)), streamed in key order (the primary key's: each curve's rows come
    together whatever order they were written in), so that only one curve's are held (the
    region grouping's of a 100,000-rep org were ~25 MB loaded whole)."""
    t = schema.metric_km
    query = (
        select(t.c.grp, t.c.capability_id, t.c.kind, t.c.day, t.c.n)
        .where(t.c.grouping == grouping)
        .order_by(t.c.grp, t.c.capability_id, t.c.kind, t.c.day)
    )
    for (group, cap), rows in groupby(bulk.driver_rows(conn, query), key=itemgetter(0, 1)):
        yield group, cap, [(kind, int(day), int(n)) for _, _, kind, day, n in rows]
