"""Writing domain records: insert what is new, update what changed, leave the rest alone.

Each batch first reads the stored digests of its keys (one query), then writes only new and
changed rows, so re-reading an unchanged export writes nothing. A changed row keeps its old
`translated_digest`, which is how the translate stage finds it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from adoptloop.domain import ERASED, Person, Rating
from adoptloop.store import bulk, schema

_PERSON_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "employee_number",
    "role",
    "manager_hr_id",
    "region",
    "country",
    "territory",
    "business_unit",
    "status",
    "hire_date",
    "termination_date",
    "team",
)


@dataclass
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_keys: list[str] = field(default_factory=list)
    inserted_keys: list[str] = field(default_factory=list)  # of changed_keys, those inserted

    def add(self, other: WriteCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


_IN_CHUNK = 500  # keys per IN (...)

# The tables whose rows feed adoption_states, with the column naming whose states they feed.
# Writing a row marks that person (before and after the change) in adoption_dirty.
ADOPTION_INPUTS = {"completions": "hr_id", "observations": "observed_hr_id"}
RATED_INPUTS = "observations"  # whose writes change the counted ratings (estimate_dirty)


# meta key: the as-of date and basis of the last adoption_states computation (adoption/compute.py)
ADOPTION_BASIS_KEY = "adoption_states_basis"
# meta key: the as-of date and basis of the last adoption metrics update (adoption/aggregates.py)
METRICS_BASIS_KEY = "adoption_metrics_basis"
# meta key: the last causal estimates and the digest of their inputs (adoption/estimates.py)
ESTIMATES_KEY = "causal_estimates"
# meta key: a stamp that every write of an adoption input (people, completions, observations
# and their ratings) replaces: the same stamp means nothing the estimates read was written
INPUTS_STAMP_KEY = "adoption_inputs_stamp"


def read_basis(conn: Connection, key: str) -> tuple[date, str] | None:
    """(as-of date, basis) of the computation bookmarked under meta `key`; None: none yet."""
    m = schema.meta
    value = conn.execute(select(m.c.value).where(m.c.key == key)).scalar_one_or_none()
    if value is None:
        return None
    found = orjson.loads(value)
    return date.fromisoformat(found["as_of"]), str(found["basis"])


def put_meta(conn: Connection, key: str, value: str) -> None:
    """Set meta `key` to `value` (inserted the first time)."""
    m = schema.meta
    if conn.execute(update(m).where(m.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(insert(m).values(key=key, value=value))


def write_basis(conn: Connection, key: str, as_of: date, basis: str) -> None:
    """Bookmark a completed computation (its as-of date and basis) under meta `key`."""
    put_meta(conn, key, orjson.dumps({"as_of": as_of.isoformat(), "basis": basis}).decode())


def forget_adoption_computation(conn: Connection) -> None:
    """Make the next adoption_states computation redo everyone, and forget the kept causal
    estimates and their kept inputs (they name managers and observers): for writes that
    change adoption inputs without going through this module (erasure, retention purge).
    The inputs stamp moves on, as for every write of the inputs."""
    # the new stamp first, as every writer of the inputs takes it: what an estimates process
    # read before this is not kept (store.metrics.keep_rating_columns)
    _inputs_written(conn)
    keys = (ADOPTION_BASIS_KEY, METRICS_BASIS_KEY, ESTIMATES_KEY)
    conn.execute(delete(schema.meta).where(schema.meta.c.key.in_(keys)))
    conn.execute(delete(schema.estimate_ratings))  # the next estimates read every rating
    conn.execute(delete(schema.estimate_dirty))


def _digest_columns(table: Table) -> list[str]:
    """record_id, digest and the person whose adoption states the row feeds (for a table that
    feeds none: record_id again)."""
    return ["record_id", "digest", ADOPTION_INPUTS.get(table.name) or "record_id"]


def inputs_stamp(conn: Connection, *, lock: bool = False) -> str | None:
    """The stamp of the adoption inputs as last written (None: not written since the store
    began keeping it). `lock`: its row locked for the rest of the transaction (PostgreSQL:
    SELECT ... FOR UPDATE, which waits for a write of the inputs not yet committed and reads
    what it wrote; on SQLite the writer holds the store's write lock already)."""
    m = schema.meta
    query = select(m.c.value).where(m.c.key == INPUTS_STAMP_KEY)
    stamp: str | None = conn.execute(
        query.with_for_update() if lock else query
    ).scalar_one_or_none()
    return stamp


def _inputs_written(conn: Connection) -> None:
    """A new stamp: the adoption inputs were written."""
    put_meta(conn, INPUTS_STAMP_KEY, uuid.uuid4().hex)


def mark_dirty(conn: Connection, hr_ids: Iterable[str | None], *, rated: bool = False) -> None:
    """Note that these people's adoption states must be recomputed (adoption/compute.py), and
    that the adoption inputs were written (a new inputs stamp); `rated`: their counted
    ratings were written (observations: the observed people, before and after), which, while
    the estimates' inputs are kept (store.metrics.kept_rating_columns), must be read again."""
    ids = sorted({i for i in hr_ids if i})
    if not ids:
        return
    _inputs_written(conn)
    _insert_ids(conn, schema.adoption_dirty, ids)
    kept = select(schema.estimate_ratings.c.part).limit(1)
    if rated and conn.execute(kept).first() is not None:
        _insert_ids(conn, schema.estimate_dirty, ids)


def _insert_ids(conn: Connection, t: Table, ids: list[str]) -> None:
    """The ids into `t`'s hr_id column, those there already left as they are."""
    if conn.dialect.name == "postgresql":
        # one statement, the ids as one array: an executemany is a statement per id for the
        # server and the driver (a 10k-rep pull marks ~84,000, one batch's people at a time)
        named = select(func.unnest(bindparam("ids", ids, type_=ARRAY(t.c.hr_id.type))))
        conn.execute(postgresql.insert(t).from_select(["hr_id"], named).on_conflict_do_nothing())
        return
    statement = sqlite.insert(t).on_conflict_do_nothing()
    for offset in range(0, len(ids), _IN_CHUNK):
        conn.execute(statement, [{"hr_id": i} for i in ids[offset : offset + _IN_CHUNK]])


def digest(value: Any) -> str:
    """BLAKE2b-128 of the value as JSON with sorted keys (orjson). Stored digests depend on
    these exact bytes: changing them makes every row look changed once."""
    return hashlib.blake2b(
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()


def row_digest(values: Mapping[str, Any], exclude: Iterable[str] = ()) -> str:
    """The digest of a row's values (dates as their ISO form, which is how orjson writes them:
    the same bytes as `.isoformat()`, so stored digests stay valid)."""
    skip = [k for k in exclude if k in values]
    if not skip:
        return digest(values)
    kept = dict(values)  # a copy with the excluded keys deleted: no Python step per key kept
    for key in skip:
        del kept[key]
    return digest(kept)


def upsert_source_rows(
    conn: Connection,
    table_name: str,
    source: str,
    rows: Sequence[dict[str, Any]],
    *,
    extra_digest: Mapping[str, str] | None = None,
    digest_exclude: Iterable[str] = (),
    new: bool = False,
    fresh: bool = False,
) -> WriteCounts:
    """Upsert rows keyed by (source, record_id); `extra_digest` folds child rows into the digest.

    Fields in `digest_exclude` are stored but do not make a row count as changed. `new`: the
    caller knows none of the rows is stored (it writes into a table that was empty), so they
    are inserted without looking up stored digests: a table filling up within one stage has
    no planner statistics, and PostgreSQL's cached plan for the lookup, made while the table
    was nearly empty, scans all of it on every batch. `fresh`: the table held none of the
    source's rows when the caller's read began (a first backfill), so only a row that read
    wrote already can be stored: the rows are inserted without the lookup, and a batch that
    repeats such a row (its insert fails, and is undone) is written with the lookup instead.
    """
    table = schema.metadata.tables[table_name]
    if not rows:
        return WriteCounts()
    prepared = _prepared(rows, source, ("source", *digest_exclude), extra_digest or {})
    if fresh and not new:
        try:
            with conn.begin_nested():
                return _upsert_prepared(conn, table, prepared, [])
        except IntegrityError:
            pass  # a key this read wrote before: written below, as any other batch
    found = (
        []
        if new
        else bulk.rows_in(
            conn,
            table,
            _digest_columns(table),
            "record_id",
            list(prepared),
            equal={"source": source},
        )
    )
    return _upsert_prepared(conn, table, prepared, found)


def _prepared(
    rows: Sequence[dict[str, Any]],
    source: str,
    exclude: tuple[str, ...],
    extras: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    """The rows to store by record id (a later duplicate in the batch wins), each a copy with
    its source, `deleted` and its digest (with its children's digest, which is not stored)."""
    prepared: dict[str, dict[str, Any]] = {}
    for row in rows:
        record_id = row["record_id"]
        hashed = row_digest({**row, "_children": extras.get(record_id, "")}, exclude=exclude)
        prepared[record_id] = {**row, "source": source, "deleted": False, "digest": hashed}
    return prepared


def _upsert_prepared(
    conn: Connection,
    table: Table,
    prepared: dict[str, dict[str, Any]],
    found: Sequence[tuple[Any, ...]],
) -> WriteCounts:
    """Insert the prepared rows not `found` (record_id, digest, person of the stored rows),
    update those whose digest changed."""
    counts = WriteCounts()
    stored = {record_id: stored_digest for record_id, stored_digest, _ in found}
    if stored:
        inserts = [v for k, v in prepared.items() if k not in stored]
        updates = [v for k, v in prepared.items() if k in stored and stored[k] != v["digest"]]
    else:
        inserts, updates = list(prepared.values()), []
    person = ADOPTION_INPUTS.get(table.name)
    if person and (inserts or updates):
        changed = {v["record_id"] for v in updates}
        mark_dirty(
            conn,
            [
                *(v[person] for v in (*inserts, *updates)),
                *(was for record_id, _, was in found if record_id in changed),
            ],
            rated=table.name == RATED_INPUTS,
        )
    if inserts:
        bulk.insert_many(conn, table, list(inserts[0]), inserts)
    if updates:
        columns = [c for c in updates[0] if c not in ("source", "record_id")]
        bulk.update_many(
            conn,
            table,
            (table.c.source == bindparam("_source")) & (table.c.record_id == bindparam("_rid")),
            columns,
            [
                {**{f"_{c}": v[c] for c in columns}, "_source": v["source"], "_rid": v["record_id"]}
                for v in updates
            ],
        )
    counts.inserted = len(inserts)
    counts.updated = len(updates)
    counts.unchanged = len(prepared) - len(inserts) - len(updates)
    counts.inserted_keys = [v["record_id"] for v in inserts]
    counts.changed_keys = [*counts.inserted_keys, *(v["record_id"] for v in updates)]
    return counts


def holds_rows(conn: Connection, table_name: str, source: str) -> bool:
    """Whether `table_name` holds any row of `source` (deleted ones too)."""
    table = schema.metadata.tables[table_name]
    query = select(table.c.record_id).where(table.c.source == source).limit(1)
    return conn.execute(query).first() is not None


# meta key: set by the v2 -> v3 migration until the ratings' scales are filled in
RATING_SCALES_PENDING = "pending:rating_scales"


def fill_rating_scales(conn: Connection, scales: Mapping[str, tuple[float, float]]) -> int | None:
    """After the v3 migration, once: each stored rating's scale from its item's scale in the
    capability map (`scales`: item -> (min, max)), as the translator took it before v3.
    Ratings of items no longer mapped stay without. Returns how many ratings were filled, or
    None when nothing was pending (the store was not upgraded from v2, or is done)."""
    meta = schema.meta
    pending = select(meta.c.key).where(meta.c.key == RATING_SCALES_PENDING)
    if conn.execute(pending).first() is None:
        return None
    t = schema.ratings
    filled = 0
    for item, (low, high) in sorted(scales.items()):
        filled += conn.execute(
            t.update()
            .where((t.c.item == item) & t.c.scale_min.is_(None))
            .values(scale_min=low, scale_max=high)
        ).rowcount
    conn.execute(delete(meta).where(meta.c.key == RATING_SCALES_PENDING))
    return filled


def ratings_digest(ratings: Sequence[Rating]) -> str:
    """What an observation's ratings add to its digest: item, capability, raw and scaled value
    (the scale's bounds come from the capability map, and moving them moves `scaled`)."""
    return row_digest(
        {
            "r": [
                {
                    "item": r.item,
                    "capability_id": r.capability_id,
                    "raw": r.raw,
                    "scaled": r.scaled,
                }
                for r in ratings
            ]
        }
    )


def replace_ratings(
    conn: Connection,
    source: str,
    ratings: Mapping[str, Sequence[Rating]],
    *,
    none_stored: Collection[str] = (),
) -> None:
    """Replace the ratings of the given observations (keyed by record_id). `none_stored`: of
    those, the ones the caller knows have no ratings stored (nothing to delete for them)."""
    if not ratings:
        return
    table = schema.ratings
    stored = [rid for rid in ratings if rid not in none_stored] if none_stored else list(ratings)
    if stored:
        conn.execute(
            delete(table).where((table.c.source == source) & table.c.record_id.in_(stored))
        )
    rows = [
        {
            "source": source,
            "record_id": rid,
            # Rating's fields by hand: dataclasses.asdict deep-copies every value (a backfill
            # writes a million ratings)
            "item": r.item,
            "capability_id": r.capability_id,
            "raw": r.raw,
            "scale_min": r.scale_min,
            "scale_max": r.scale_max,
            "scaled": r.scaled,
        }
        for rid, rs in ratings.items()
        for r in rs
    ]
    if rows:
        bulk.insert_many(conn, table, list(rows[0]), rows)


def upsert_people(conn: Connection, people: Sequence[Person]) -> WriteCounts:
    """Effective-dated upsert: a changed person closes the old row and opens a new one.

    A row at an existing (hr_id, valid_from) is updated in place; a row with a new valid_from
    is added unless it equals the row already in effect then (a snapshot export re-read on
    another day adds nothing). `valid_to` is recomputed for every person touched. The rows
    are worked out in memory, then written with one statement per kind (insert, update).
    """
    counts = WriteCounts()
    if not people:
        return counts
    table = schema.people
    ids = sorted({p.hr_id for p in people})
    existing: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for offset in range(0, len(ids), _IN_CHUNK):
        for row in conn.execute(
            select(table)
            .where(table.c.hr_id.in_(ids[offset : offset + _IN_CHUNK]))
            .order_by(table.c.hr_id, table.c.valid_from)
        ).mappings():
            existing[row["hr_id"]].append({**row, "_stored": dict(row)})
    touched: set[str] = set()
    for person in sorted(people, key=lambda p: (p.hr_id, p.valid_from)):
        values = {f: getattr(person, f) for f in _PERSON_FIELDS}
        # without a team the digest is what it was before v6 added the column, so that the
        # rows stored then do not all look changed
        content = row_digest(values, exclude=() if person.team is not None else ("team",))
        rows = existing[person.hr_id]
        same_day = next((r for r in rows if r["valid_from"] == person.valid_from), None)
        if same_day is not None:
            if same_day["digest"] == content:
                counts.unchanged += 1
                continue
            same_day.update(values, digest=content)
            counts.updated += 1
        else:
            before = [r for r in rows if r["valid_from"] < person.valid_from]
            if before and before[-1]["digest"] == content:
                counts.unchanged += 1
                continue
            rows.append({"hr_id": person.hr_id, "valid_from": person.valid_from, **values})
            rows[-1]["digest"] = content
            rows.sort(key=lambda r: r["valid_from"])
            counts.inserted += 1
        touched.add(person.hr_id)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for hr_id in sorted(touched):
        rows = existing[hr_id]
        for current, following in zip(rows, [*rows[1:], None], strict=True):
            current["valid_to"] = following["valid_from"] if following else None
            stored = current.get("_stored")
            wanted = {k: v for k, v in current.items() if k != "_stored"}
            if stored is None:
                inserts.append(wanted)
            elif wanted != stored:
                updates.append({f"_{k}": v for k, v in wanted.items()})
    if inserts:
        conn.execute(table.insert(), inserts)
    if updates:
        columns = [c.name for c in table.columns if c.name not in ("hr_id", "valid_from")]
        conn.execute(
            table.update()
            .where(
                (table.c.hr_id == bindparam("_hr_id"))
                & (table.c.valid_from == bindparam("_valid_from"))
            )
            .values({c: bindparam(f"_{c}") for c in columns}),
            updates,
        )
    counts.changed_keys = sorted(touched)
    mark_dirty(conn, touched)
    return counts


def mark_deleted(conn: Connection, table_name: str, source: str, record_ids: Sequence[str]) -> int:
    """Tombstone rows: `deleted` set and the digest changed, so translate voids their statements."""
    if not record_ids:
        return 0
    table = schema.metadata.tables[table_name]
    found = bulk.rows_in(
        conn,
        table,
        [*_digest_columns(table), "deleted"],
        "record_id",
        list(record_ids),
        equal={"source": source},
    )
    rows = [row for row in found if not row[3]]  # (record_id, digest, person, deleted)
    if table.name in ADOPTION_INPUTS:
        mark_dirty(conn, (row[2] for row in rows), rated=table.name == RATED_INPUTS)
    if rows:
        conn.execute(
            table.update()
            .where((table.c.source == source) & (table.c.record_id == bindparam("_rid")))
            .values(deleted=True, digest=bindparam("_digest")),
            [{"_rid": r[0], "_digest": digest({"deleted": r[1]})} for r in rows],
        )
    return len(rows)


def terminate_people(
    conn: Connection, hr_ids: Sequence[str], on: date, *, by_snapshot: bool = False
) -> int:
    """People deleted at the source: a terminated row from `on`, unless already terminated.
    `by_snapshot`: they are only missing from a snapshot export; the row is marked so that
    `reopen_snapshot_closed` undoes it when an export lists them again."""
    table = schema.people
    closed: list[Person] = []
    for hr_id in sorted(set(hr_ids)):
        current = (
            conn.execute(
                select(table)
                .where((table.c.hr_id == hr_id) & (table.c.valid_from <= on))
                .order_by(table.c.valid_from.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if current is None or current["status"] == "terminated":
            continue
        values = {f: current[f] for f in _PERSON_FIELDS}
        values.update(status="terminated", termination_date=current["termination_date"] or on)
        closed.append(Person(hr_id=hr_id, valid_from=on, **values))
    written = upsert_people(conn, closed)
    if by_snapshot and closed:
        table = schema.people
        conn.execute(
            table.update()
            .where(table.c.hr_id.in_([p.hr_id for p in closed]) & (table.c.valid_from == on))
            .values(snapshot_closed=True)
        )
    return written.inserted + written.updated


def reopen_snapshot_closed(conn: Connection, hr_ids: Sequence[str]) -> list[str]:
    """People a snapshot export had closed and a read lists again: the closing row goes and
    the row before it is in effect again. Returns whom it reopened."""
    table = schema.people
    closed = conn.execute(
        select(table.c.hr_id, table.c.valid_from).where(
            table.c.hr_id.in_(sorted(set(hr_ids))) & table.c.snapshot_closed.is_(True)
        )
    ).all()
    for hr_id, valid_from in closed:
        conn.execute(
            table.delete().where((table.c.hr_id == hr_id) & (table.c.valid_from == valid_from))
        )
        conn.execute(
            table.update()
            .where((table.c.hr_id == hr_id) & (table.c.valid_to == valid_from))
            .values(valid_to=None)
        )
    reopened = sorted({hr_id for hr_id, _ in closed})
    mark_dirty(conn, reopened)
    return reopened


def unknown_managers(conn: Connection) -> list[tuple[str, str, date]]:
    """(hr_id, manager_hr_id, valid_from) of HR rows naming a manager who has no HR row (an
    erased manager, ERASED, is known to be gone and not listed)."""
    people = schema.people
    known = select(people.c.hr_id)
    rows = conn.execute(
        select(people.c.hr_id, people.c.manager_hr_id, people.c.valid_from)
        .where(people.c.manager_hr_id.is_not(None) & people.c.manager_hr_id.not_in(known))
        .where(people.c.manager_hr_id != ERASED)
        .order_by(people.c.hr_id, people.c.valid_from)
    ).all()
    return [(r.hr_id, r.manager_hr_id, r.valid_from) for r in rows]


def stored_count(conn: Connection, table_name: str) -> int:
    """How many records a table holds: people by HR id, others not deleted."""
    table = schema.metadata.tables[table_name]
    if table_name == "people":
        query = select(func.count(table.c.hr_id.distinct()))
    else:
        query = select(func.count()).where(table.c.deleted.is_(False)).select_from(table)
    return int(conn.execute(query).scalar_one())


# meta key prefix: the digest of the roles map an HR source was last read whole under
ROLES_DIGEST_KEY = "roles_map:"


def roles_digest(conn: Connection, source: str) -> str | None:
    m = schema.meta
    return conn.execute(
        select(m.c.value).where(m.c.key == ROLES_DIGEST_KEY + source)
    ).scalar_one_or_none()


def set_roles_digest(conn: Connection, source: str, value: str) -> None:
    put_meta(conn, ROLES_DIGEST_KEY + source, value)


def remap_roles(conn: Connection, role_of: Callable[[str], str | None]) -> int:
    """Map the stored HR rows' roles again (`role_of` answers None for a value it does not
    know, which is left as it is); returns how many rows changed."""
    people = schema.people
    changed: list[dict[str, Any]] = []
    for row in conn.execute(select(people)).mappings():
        role = role_of(row["role"])
        if role is None or role == row["role"]:
            continue
        values = {f: row[f] for f in _PERSON_FIELDS} | {"role": role}
        changed.append(
            {
                "_hr_id": row["hr_id"],
                "_valid_from": row["valid_from"],
                "role": role,
                "digest": row_digest(values),
            }
        )
    if changed:
        conn.execute(
            people.update()
            .where(
                (people.c.hr_id == bindparam("_hr_id"))
                & (people.c.valid_from == bindparam("_valid_from"))
            )
            .values(role=bindparam("role"), digest=bindparam("digest")),
            changed,
        )
        _inputs_written(conn)
    return len(changed)
