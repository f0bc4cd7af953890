"""What a snapshot export no longer names: the live records of a source it did not list.

A file read in `mode: snapshot` is the whole truth for the kinds of record its stream yields;
the pull stage writes the keys the read names into a temporary table of its connection
(`Named`), and deletes (tombstones, terminates) the live records the store holds that are not
in it (`unnamed`) — unless too many went missing at once. The comparison is one query on the
database's side (SQLite and PostgreSQL alike), so the pull holds no set of the org's ids: a
backfill names a quarter of a million of them at 10,000 reps. A read that begins with
nothing stored it could delete (`any_live`, and none of its records parked) writes no keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    exists,
    func,
    select,
    true,
)

from adoptloop.store import schema

# the table of each kind of record a snapshot may delete (people are handled apart: HR rows
# are effective-dated and carry no source)
TABLES = {
    "completion": "completions",
    "observation": "observations",
    "action": "development_actions",
    "interaction": "interactions",
}

# Keys a read named, on the pull's connection only (a temporary table: never in the schema,
# gone with the connection). `snapshot`: for a key the read yielded, how many Snapshot items
# came before it; for a key a Snapshot listed apart from the records read, that snapshot's
# number (`listed`).
_named = Table(
    "adoptloop_snapshot_named",
    MetaData(),
    Column("key", Text, nullable=False),
    Column("snapshot", Integer, nullable=False),
    Column("listed", Boolean, nullable=False),
    Index("adoptloop_snapshot_named_key", "key"),
    prefixes=["TEMPORARY"],
)

_INSERT_ROWS = 1000  # keys written per INSERT


class Named:
    """The keys a stream's read names, written to a temporary table on `conn` as they come,
    in batches (the caller's transaction; a key is never held beyond its batch).

    `add` a key the read yielded; `snapshot` marks the end of a whole read (a Snapshot item)
    and returns its number, which `unnamed` and `unnamed_parked` compare against: the keys
    yielded before it, plus the keys it lists."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.snapshots = 0
        self._pending: list[tuple[str, int, bool]] = []
        # rows as the driver takes them, without the SQL layer's per-row work (a backfill
        # writes a quarter of a million keys at 10,000 reps)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self._insert = (
            f"INSERT INTO {_named.name} (key, snapshot, listed) VALUES ({mark}, {mark}, {mark})"
        )
        _named.create(conn, checkfirst=True)
        conn.execute(_named.delete())  # what an earlier read on this connection left

    def add(self, key: str) -> None:
        self._pending.append((key, self.snapshots, False))
        if len(self._pending) >= _INSERT_ROWS:
            self._write()

    def snapshot(self, listed: Iterable[str] | None = None) -> int:
        self._write()
        self.snapshots += 1
        for key in listed or ():
            self._pending.append((key, self.snapshots, True))
            if len(self._pending) >= _INSERT_ROWS:
                self._write()
        self._write()
        return self.snapshots

    def clear(self) -> None:
        self._pending.clear()
        self.conn.execute(_named.delete())

    def _write(self) -> None:
        if self._pending:
            self.conn.exec_driver_sql(self._insert, self._pending)
            self._pending = []


def _is_named(key: ColumnElement[Any], snapshot: int) -> ColumnElement[bool]:
    n = _named.c
    return exists().where(
        (n.key == key)
        & (
            ((n.snapshot < snapshot) & n.listed.is_(False))
            | ((n.snapshot == snapshot) & n.listed.is_(True))
        )
    )


def _starts(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """Case-sensitive, on both databases (SQLite's LIKE is not)."""
    return func.substr(column, 1, len(prefix)) == prefix if prefix else true()


def _live(source: str, kind: str, prefix: str) -> tuple[ColumnElement[str], Select[Any]]:
    """The key column and the query of the stored, live records of `kind` from `source` whose
    key starts with `prefix`; for "person", the hr_ids whose latest HR row is not terminated."""
    if kind == "person":
        p = schema.people
        latest = (
            select(p.c.hr_id, func.max(p.c.valid_from).label("valid_from"))
            .group_by(p.c.hr_id)
            .subquery()
        )
        query = (
            select(p.c.hr_id)
            .join(latest, (p.c.hr_id == latest.c.hr_id) & (p.c.valid_from == latest.c.valid_from))
            .where((p.c.status != "terminated") & _starts(p.c.hr_id, prefix))
        )
        return p.c.hr_id, query
    table = schema.metadata.tables[TABLES[kind]]
    query = select(table.c.record_id).where(
        (table.c.source == source) & table.c.deleted.is_(False) & _starts(table.c.record_id, prefix)
    )
    return table.c.record_id, query


def any_live(conn: Connection, source: str, kinds: Iterable[str]) -> bool:
    """Whether the store holds any live record of these kinds from `source` (any key)."""
    for kind in kinds:
        _, query = _live(source, kind, "")
        if conn.execute(query.limit(1)).first() is not None:
            return True
    return False


def live_count(conn: Connection, source: str, kind: str, prefix: str) -> int:
    _, query = _live(source, kind, prefix)
    return int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def unnamed_count(conn: Connection, source: str, kind: str, prefix: str, snapshot: int) -> int:
    key, query = _live(source, kind, prefix)
    query = query.where(~_is_named(key, snapshot))
    return int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def unnamed(
    conn: Connection, source: str, kind: str, prefix: str, snapshot: int, *, chunk: int = 1000
) -> Iterator[list[str]]:
    """The live records' keys that `snapshot` did not name, in key order, `chunk` at a time
    (each chunk read after the caller dealt with the one before)."""
    key, query = _live(source, kind, prefix)
    query = query.where(~_is_named(key, snapshot)).order_by(key).limit(chunk)
    after: str | None = None
    while True:
        page = query if after is None else query.where(key > after)
        keys = list(conn.execute(page).scalars())
        if not keys:
            return
        yield keys
        after = keys[-1]


def unnamed_parked(
    conn: Connection, source: str, stream: str, prefix: str, snapshot: int
) -> list[str]:
    """Keys of the records of `stream` that wait for their person and that `snapshot` did not
    name, in key order."""
    t = schema.parked
    return list(
        conn.execute(
            select(t.c.record_key)
            .where(
                (t.c.source == source)
                & (t.c.stream == stream)
                & _starts(t.c.record_key, prefix)
                & ~_is_named(t.c.record_key, snapshot)
            )
            .order_by(t.c.record_key)
        ).scalars()
    )
