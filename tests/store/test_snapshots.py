"""Issue 17, flat memory: a snapshot read's keys are compared with the store by the database.

The keys a read names go into a temporary table of the pull's connection (`Named`), and the
live records it did not name come back from a query, on SQLite and PostgreSQL alike: the same
deletions as the set the pull used to hold, without the pull holding the org's ids.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from adoptloop.domain import FieldInteraction, PersonRef
from adoptloop.pipeline.deletes import WholeRead, apply_snapshot
from adoptloop.store import parked, records, schema, snapshots


def _calls(conn: Connection, source: str, ids: list[str]) -> None:
    rows = [{"record_id": i, "hr_id": "E1", "date": date(2026, 1, 5)} for i in ids]
    records.upsert_source_rows(conn, "interactions", source, rows)


def _live(engine: Engine, source: str = "crm") -> list[str]:
    t = schema.interactions
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(t.c.record_id).where((t.c.source == source) & t.c.deleted.is_(False))
            ).scalars()
        )


def _park(conn: Connection, key: str) -> None:
    record = FieldInteraction(
        source_record_id=key,
        rep=PersonRef("salesforce", "U9"),
        date=date(2026, 1, 5),
        channel=None,
        type=None,
        status=None,
        manager=None,
    )
    parked.park(conn, "crm", "calls", key, record.rep, record, "run-1")


def _parked(engine: Engine) -> list[str]:
    t = schema.parked
    with engine.connect() as conn:
        return sorted(conn.execute(select(t.c.record_key)).scalars())


def test_the_snapshot_comparison_deletes_exactly_the_ids_not_read(engine: Engine) -> None:
    """The live records of the compared prefix that the read did not name are tombstoned,
    and parked records it did not name dropped; another prefix, another source, a record
    already deleted and keys named after the Snapshot item are left as they are."""
    kept = [f"a0X{n:03d}" for n in range(12)]
    gone = ["a0X900", "a0X901"]
    with engine.begin() as conn:
        _calls(conn, "crm", [*kept, *gone, "a0Xdel", "00Qother"])
        records.mark_deleted(conn, "interactions", "crm", ["a0Xdel"])
        _calls(conn, "other", ["a0X900"])
        _park(conn, "a0Xp1")  # waits for its person, named again: stays parked
        _park(conn, "a0Xp2")  # waits, and is no longer named: dropped
        _park(conn, "00Qp3")  # another prefix: not compared

    with engine.begin() as conn:
        named = snapshots.Named(conn)
        for key in [*kept[:10], "a0Xp1"]:
            named.add(key)
        number = named.snapshot(listed=kept[10:])  # listed apart from the records read
        named.add("a0X900")  # read after the Snapshot: not named by it
        read = WholeRead(("interaction",), number, key_prefix="a0X")
        result = apply_snapshot(conn, "crm", "calls", read, allow_shrink=False)
        named.clear()

    assert result.held_back is None
    assert result.deleted == len(gone) + 1  # two calls tombstoned, one parked record dropped
    assert _live(engine) == sorted([*kept, "00Qother"])
    assert _live(engine, "other") == ["a0X900"]
    assert _parked(engine) == ["00Qp3", "a0Xp1"]


def test_a_later_snapshot_compares_with_every_key_read_before_it(engine: Engine) -> None:
    """Keys read before an earlier Snapshot item still count as named for a later one; the
    keys an earlier snapshot listed apart from the read do not."""
    with engine.begin() as conn:
        _calls(conn, "crm", ["a1", "a2", "a3", "a4", "a5", "a6"])
    with engine.begin() as conn:
        named = snapshots.Named(conn)
        named.add("a1")
        first = named.snapshot(listed=["a2"])
        for key in ("a3", "a4", "a5"):
            named.add(key)
        second = named.snapshot()
        read = WholeRead(("interaction",), second)
        result = apply_snapshot(conn, "crm", "calls", read, allow_shrink=True)
    assert (first, second) == (1, 2)
    assert result.deleted == 2
    assert _live(engine) == ["a1", "a3", "a4", "a5"]


def test_a_big_shrink_found_by_the_database_is_held_back(engine: Engine) -> None:
    """Over SHRINK_LIMIT of the stored records not named: counted by the query, none deleted."""
    ids = [f"c{n}" for n in range(10)]
    with engine.begin() as conn:
        _calls(conn, "crm", ids)
    with engine.begin() as conn:
        named = snapshots.Named(conn)
        for key in ids[:7]:
            named.add(key)
        result = apply_snapshot(
            conn, "crm", "calls", WholeRead(("interaction",), named.snapshot()), allow_shrink=False
        )
    assert result.held_back is not None
    assert "no longer lists 3 of the 10 records" in result.held_back
    assert _live(engine) == sorted(ids)


def test_the_named_keys_are_in_the_connections_own_temporary_table(engine: Engine) -> None:
    """The keys go to the database in batches (not held by the pull), only on the connection
    that reads the stream, and a new read on that connection starts empty."""
    with engine.connect() as conn, engine.connect() as other:
        named = snapshots.Named(conn)
        for n in range(2500):
            named.add(f"k{n}")
        named.snapshot()
        count = text("SELECT count(*) FROM adoptloop_snapshot_named")
        assert conn.execute(count).scalar_one() == 2500
        with pytest.raises(DBAPIError):  # another connection has no such table
            other.execute(count)
        snapshots.Named(conn)
        assert conn.execute(count).scalar_one() == 0
