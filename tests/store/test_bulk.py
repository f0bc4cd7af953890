"""store/bulk.py writes what SQLAlchemy Core's executemany writes (issue 17, pull writes: the
values of a column that repeat, a flag or a visit date, are converted once per call), and reads
the rows of a batch's keys (`rows_in`) on both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    select,
)

from adoptloop.store import bulk, identities, schema
from adoptloop.store.db import open_store
from adoptloop.store.identities import Identity
from tests.store.plans import filled_after_its_statistics, rows_removed, statements_sent

_metadata = MetaData()
_table = Table(
    "t",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Date),
    Column("flag", Boolean),
    Column("score", Float),
    Column("name", String(32)),
    Column("extra", JSON),
)

_rows = st.lists(
    st.fixed_dictionaries(
        {
            # few distinct values, so that most repeat within a call
            "day": st.none() | st.sampled_from([date(2026, 1, 1), date(999, 12, 31)]),
            "flag": st.none() | st.booleans() | st.sampled_from([0, 1]),  # mixed types too
            "score": st.none() | st.sampled_from([0.0, 1.0, 2.5]),
            "name": st.none() | st.sampled_from(["a", "b"]),
            "extra": st.sampled_from([{"a": 1}, [1, 2], "x"]),  # unhashable values too
        }
    ),
    max_size=30,
)


def _stored(rows: list[dict[str, Any]], *, ours: bool) -> list[tuple[Any, ...]]:
    engine = create_engine("sqlite://")
    _metadata.create_all(engine)
    numbered = [{"id": i, **row} for i, row in enumerate(rows)]
    with engine.begin() as conn:
        if ours:
            bulk.insert_many(
                conn, _table, ["id", "day", "flag", "score", "name", "extra"], numbered
            )
        elif numbered:
            conn.execute(_table.insert(), numbered)
        flipped = [{"_flag": not r["flag"], "_day": r["day"], "_rid": r["id"]} for r in numbered]
        where = _table.c.id == bindparam("_rid")
        if ours:
            bulk.update_many(conn, _table, where, ["flag", "day"], flipped)
        elif flipped:
            conn.execute(
                _table.update().where(where).values(flag=bindparam("_flag"), day=bindparam("_day")),
                flipped,
            )
        raw = conn.exec_driver_sql("SELECT id, day, flag, score, name, extra FROM t ORDER BY id")
        return [*raw.all(), *conn.execute(select(_table).order_by(_table.c.id)).all()]


@settings(max_examples=60, deadline=None)
@given(_rows)
def test_bulk_writes_the_same_stored_values_as_core_executemany(
    rows: list[dict[str, Any]],
) -> None:
    """Issue 17 (pull writes): converting each distinct value of a column once per call (not
    once per row) stores exactly what SQLAlchemy's own parameter processing stores."""
    assert _stored(rows, ours=True) == _stored(rows, ours=False)


def test_rows_in_reads_the_rows_whose_key_is_given_on_both_databases(engine: Engine) -> None:
    """Issue 17 point 2 (pull_vs_bare_fetch): the pull reads a batch's stored digests with one
    statement in the driver's own placeholders (`bulk.rows_in`), on SQLite and PostgreSQL;
    keys are bound, never spliced (a quote, a placeholder or a percent sign is just text)."""
    keys = ["a'1", "%s", "?", "b%", "plain"]
    with engine.begin() as conn:
        identities.remember(
            conn,
            [Identity("crm", k, f"E{i}", "Email->email") for i, k in enumerate(keys)]
            + [Identity("lms", "plain", "E9", "x->hr_id")],
        )
        found = bulk.rows_in(
            conn,
            schema.identities,
            ["external_id", "hr_id"],
            "external_id",
            [*keys, "missing"],
            equal={"system": "crm"},
        )
        assert sorted(found) == sorted((k, f"E{i}") for i, k in enumerate(keys))
        assert bulk.rows_in(conn, schema.identities, ["hr_id"], "external_id", []) == []


def test_add_tuples_adds_every_rows_counts_on_both_databases(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """add_tuples adds each row's counts to its key's row (inserting it when there is none),
    whatever the batch: keys repeated within it (PostgreSQL's multi-row upsert may not touch a
    row twice in one statement), more rows than one statement takes, counts that cancel."""
    monkeypatch.setattr(bulk, "_VALUES_ROWS", 3)
    t = schema.metric_km
    keys = ("grouping", "grp", "capability_id", "kind", "day")

    def add(rows: list[tuple[Any, ...]]) -> None:
        with engine.begin() as conn:
            bulk.add_tuples(conn, t, keys, ["n"], rows)

    add([("region", "North", "c1", "e", day, 1) for day in range(5)])
    add(
        [
            ("region", "North", "c1", "e", 0, 2),
            ("region", "North", "c1", "e", 0, 3),  # the same key again in one batch
            ("region", "North", "c1", "e", 1, -1),
            ("region", "South", "c1", "c", 7, 4),
            ("region", "South", "c1", "c", 7, -4),  # cancels: a row of 0 stays
            ("(all)", "(all)", "c2", "e", 3, 1),
        ]
    )
    with engine.connect() as conn:
        stored = {tuple(r[:-1]): r[-1] for r in conn.execute(select(t))}
    assert stored == {
        ("region", "North", "c1", "e", 0): 6,
        ("region", "North", "c1", "e", 1): 0,
        ("region", "North", "c1", "e", 2): 1,
        ("region", "North", "c1", "e", 3): 1,
        ("region", "North", "c1", "e", 4): 1,
        ("region", "South", "c1", "c", 7): 0,
        ("(all)", "(all)", "c2", "e", 3): 1,
    }


def test_insert_many_stores_what_core_stores_on_both_databases(engine: Engine) -> None:
    """On PostgreSQL insert_many sends the rows with COPY (each value formatted by the driver,
    JSON by the column's own processor): what it stores is what Core's INSERT stores, value
    for value, None included."""
    rows = [
        {
            "id": i,
            "day": (None, date(2026, 1, 1), date(999, 12, 31))[i % 3],
            "flag": (None, True, False)[i % 3],
            "score": (None, 0.0, 2.5, -1e-9)[i % 4],
            "name": (None, "a", "tab\there", "quote ' and \\ and newline\n", "ünï")[i % 5],
            "extra": ({"a": 1}, [1, 2], "x", None)[i % 4],
        }
        for i in range(12)
    ]
    core = _table.to_metadata(MetaData(), name="t_core")
    _metadata.create_all(engine)
    core.create(engine)
    with engine.begin() as conn:
        bulk.insert_many(conn, _table, list(rows[0]), rows)
        conn.execute(core.insert(), rows)
        ours = conn.execute(select(_table).order_by(_table.c.id)).all()
        theirs = conn.execute(select(core).order_by(core.c.id)).all()
    assert len(ours) == len(rows)
    assert ours == theirs


def test_driver_rows_reads_what_sqlalchemy_reads_with_dates_as_stored(engine: Engine) -> None:
    """Issue 17 (the first adoption pass): the states pass reads ~1M ratings through the
    driver (`bulk.driver_rows`): the same rows in the same order as SQLAlchemy's, its bound
    values converted as SQLAlchemy converts them (a date, compared with stored ones), on
    SQLite without a Row per row (a date as the ISO text it stores); with an IN list, and on
    PostgreSQL, SQLAlchemy's typed rows."""
    with engine.begin() as conn:
        _table.create(conn)
        bulk.insert_many(
            conn,
            _table,
            ["id", "day", "flag", "score", "name"],
            [
                {"id": i, "day": date(2026, 1, 1 + i % 5), "flag": i % 2 == 0, "score": i / 4}
                | {"name": "a'?" if i % 3 else None}
                for i in range(12_000)  # more than a fetch
            ],
        )
        columns = [_table.c.id, _table.c.day, _table.c.flag, _table.c.score, _table.c.name]
        query = (
            select(*columns)
            .where(_table.c.day <= date(2026, 1, 3), _table.c.flag.is_(True))
            .order_by(_table.c.id)
        )
        expected = [tuple(row) for row in conn.execute(query)]
        got = [tuple(row) for row in bulk.driver_rows(conn, query, size=1000)]
        only = query.where(_table.c.id.in_([0, 6, 7, 12]))
        few = [tuple(row) for row in bulk.driver_rows(conn, only)]
        _table.drop(conn)

    assert 0 < len(expected) < 12_000
    if engine.dialect.name == "sqlite":
        assert {type(row) for row in got} == {tuple}
        got = [(i, date.fromisoformat(day), *rest) for i, day, *rest in got]
        got = [(i, day, bool(flag), *rest) for i, day, flag, *rest in got]
    assert got == expected
    assert few == [row for row in expected if row[0] in (0, 6, 12)]


def test_rows_in_reads_each_key_through_the_index_of_a_table_filled_after_its_statistics(
    postgres_url: str,
) -> None:
    """PostgreSQL: a table analyzed while empty (a new store's tables, between stages) and then
    filled within a stage has no statistics of its rows: planned as one `IN` list, a batch's
    lookup read every row of the source and filtered them by the list (a pull's tombstone
    lookups, ~25 ms each at 10k reps). Each key is looked up through the primary key, whatever
    the statistics; rows whose key repeats come back once, as with IN."""
    engine = open_store(postgres_url)
    t = schema.interactions
    columns = ["record_id", "hr_id", "date", "source", "deleted", "digest"]
    try:
        filled_after_its_statistics(
            engine,
            t,
            columns,
            [
                (f"c{i:07d}", f"E{i % 997}", date(2026, 1, 1), "crm", False, f"d{i}")
                for i in range(60_000)
            ],
        )
        keys = [*(f"missing{i}" for i in range(120)), "c0000007", "c0000007"]
        with engine.connect() as conn:
            with statements_sent(engine) as sent:
                found = bulk.rows_in(
                    conn, t, ["record_id", "digest"], "record_id", keys, equal={"source": "crm"}
                )
            assert found == [("c0000007", "d7")]
            ((sql, params),) = sent
            assert rows_removed(conn, sql, params) == 0  # no row read that was not asked for
    finally:
        engine.dispose()
