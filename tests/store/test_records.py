"""Domain records in the store: the upserts behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, event, select

from adoptloop.domain import Person
from adoptloop.store import records, schema
from adoptloop.store.records import row_digest
from adoptloop.xapi.canonical import digest

ANNA = Person(
    hr_id="E1",
    valid_from=date(2025, 1, 1),
    first_name="Anna",
    last_name="Berg",
    email="anna@example.com",
    employee_number="1001",
    role="rep",
    manager_hr_id=None,
    region="North",
    country="DE",
    territory=None,
    business_unit="Oncology",
    status="active",
    hire_date=date(2024, 5, 1),
    termination_date=None,
)


def _rows(engine: Engine) -> list[tuple[date, date | None, str | None]]:
    t = schema.people
    with engine.connect() as conn:
        return [
            (r.valid_from, r.valid_to, r.region)
            for r in conn.execute(select(t).order_by(t.c.valid_from))
        ]


def test_a_changed_person_closes_the_old_row_and_dates_are_dates(engine: Engine) -> None:
    moved = replace(ANNA, valid_from=date(2025, 7, 1), region="South")
    with engine.begin() as conn:
        records.upsert_people(conn, [ANNA])
        counts = records.upsert_people(conn, [moved, ANNA])

    assert (counts.inserted, counts.unchanged) == (1, 1)
    assert _rows(engine) == [
        (date(2025, 1, 1), date(2025, 7, 1), "North"),
        (date(2025, 7, 1), None, "South"),
    ]


def test_a_terminated_person_gets_a_terminated_row_once(engine: Engine) -> None:
    with engine.begin() as conn:
        records.upsert_people(conn, [ANNA])
        assert records.terminate_people(conn, ["E1"], date(2026, 1, 31)) == 1
        assert records.terminate_people(conn, ["E1"], date(2026, 2, 28)) == 0
    with engine.connect() as conn:
        statuses = conn.execute(
            select(schema.people.c.status).order_by(schema.people.c.valid_from)
        ).scalars()
        assert list(statuses) == ["active", "terminated"]


def test_source_rows_are_inserted_updated_or_left_alone(engine: Engine) -> None:
    row = {
        "record_id": "c1",
        "hr_id": "E1",
        "module_id": "m1",
        "module_title": "Objection handling",
        "status": "completed",
        "completed_at": "2026-01-05T10:00:00.000Z",
        "score": None,
    }
    with engine.begin() as conn:
        first = records.upsert_source_rows(conn, "completions", "lms", [row])
        same = records.upsert_source_rows(conn, "completions", "lms", [row])
        changed = records.upsert_source_rows(conn, "completions", "lms", [{**row, "score": 0.8}])
        gone = records.mark_deleted(conn, "completions", "lms", ["c1"])

    assert (first.inserted, same.unchanged, changed.updated, gone) == (1, 1, 1, 1)
    with engine.connect() as conn:
        stored = conn.execute(select(schema.completions)).mappings().one()
    assert stored["deleted"] is True
    assert stored["score"] == 0.8


def test_a_fresh_reads_batch_that_repeats_a_row_it_wrote_is_written_with_the_lookup(
    engine: Engine,
) -> None:
    """`fresh`: the batch goes in without looking up stored digests; a row this read already
    wrote makes that insert fail as a whole (a duplicate key, on PostgreSQL from COPY too), and
    the batch is then written as any other: nothing doubled, nothing lost, counts exact."""
    row = {
        "record_id": "o1",
        "observer_hr_id": "M1",
        "observed_hr_id": "E1",
        "visit_date": date(2026, 1, 5),
        "timezone": "Europe/Berlin",
        "status": "submitted",
        "counted": True,
        "submitted_at": None,
        "modified_at": "2026-01-05T10:00:00.000Z",
        "has_next_step": False,
        "names_capability": True,
        "word_count": 12,
    }
    t = schema.observations
    with engine.begin() as conn:
        first = records.upsert_source_rows(conn, "observations", "crm", [row], fresh=True)
        again = records.upsert_source_rows(
            conn,
            "observations",
            "crm",
            [{**row, "record_id": "o2"}, {**row, "word_count": 13}],
            fresh=True,
        )
        stored = conn.execute(
            select(
                t.c.record_id, t.c.visit_date, t.c.counted, t.c.has_next_step, t.c.word_count
            ).order_by(t.c.record_id)
        ).all()
    assert (first.inserted, again.inserted, again.updated) == (1, 1, 1)
    assert [tuple(r) for r in stored] == [
        ("o1", date(2026, 1, 5), True, False, 13),
        ("o2", date(2026, 1, 5), True, False, 12),
    ]


def test_a_row_digest_writes_dates_as_their_iso_form() -> None:
    """Stored digests were made with dates as .isoformat() strings; they must stay valid."""
    when = datetime(2026, 1, 5, 12, 30, 15, 120000, tzinfo=UTC)
    row = {"on": date(2026, 1, 5), "at": when, "n": 3, "s": "x", "none": None}
    as_text = {**row, "on": "2026-01-05", "at": when.isoformat()}
    assert row_digest(row) == digest(as_text)
    assert row_digest(row, exclude=["n"]) == digest({k: v for k, v in as_text.items() if k != "n"})
    assert row_digest(row) != row_digest({**row, "on": date(2026, 1, 6)})


def test_a_row_digest_keeps_the_bytes_of_the_digests_already_stored() -> None:
    """Existing stores compare against digests made by earlier versions (with xAPI's canonical
    JSON): the same values must give the same hex now that the store digests rows itself."""
    row = {
        "hr_id": "E1",
        "on": date(2026, 1, 5),
        "score": 0.75,
        "n": None,
        "ok": True,
        "name": "Åsa",
    }
    assert records.row_digest(row) == "34729f2df925a6f6da1c383355cc1e21"
    assert records.row_digest({**row, "x": 1}, exclude=["x"]) == "34729f2df925a6f6da1c383355cc1e21"
    assert records.row_digest({"deleted": "0123456789abcdef0123456789abcdef"}) == (
        "ef1c6f5afec2e2277bbafa9fcae48a3d"
    )


def test_source_rows_keep_the_digests_earlier_versions_stored(engine: Engine) -> None:
    """Issue 17 (pull CPU: the digests of a batch are made without row_digest's calls): the
    same rows give the same stored digests as before, with their children's digest folded
    in and the excluded fields left out, so a re-read of an unchanged export writes nothing."""
    row: dict[str, Any] = {
        "record_id": "c1",
        "hr_id": "E1",
        "module_id": "m1",
        "module_title": "Objection handling",
        "status": "completed",
        "completed_at": "2026-01-05T10:00:00.000Z",
        "score": None,
    }
    rows = [row, {**row, "record_id": "c2", "score": 0.5}]
    kids = {"c1": "children-1"}
    c = schema.completions
    with engine.begin() as conn:
        records.upsert_source_rows(conn, "completions", "lms", [{**row, "record_id": "c3"}])
        records.upsert_source_rows(
            conn, "completions", "lms", rows, extra_digest=kids, digest_exclude=["score"]
        )
        stored = {r.record_id: r.digest for r in conn.execute(select(c.c.record_id, c.c.digest))}
        assert stored == {
            "c1": "0d92f0493063364097f0d1aa501847e3",
            "c2": "4427a61a9c1331d5302293bd9630fd82",
            "c3": "56b19d7bd78e9b35651a2683b38702c8",
        }
        # an excluded field changed: unchanged; the children changed: updated
        again = records.upsert_source_rows(
            conn,
            "completions",
            "lms",
            [{**row, "score": 0.9}, rows[1]],
            extra_digest={"c1": "children-1", "c2": "children-2"},
            digest_exclude=["score"],
        )
    assert (again.unchanged, again.updated, again.changed_keys) == (1, 1, ["c2"])
    assert again.inserted_keys == []


def test_mark_dirty_notes_each_person_once_with_one_statement_on_postgresql(
    engine: Engine,
) -> None:
    """Marked people are noted once each, however often marked (None ignored); on PostgreSQL
    each call is one INSERT of an array, not a statement per person (a pull marks each
    batch's people: ~84,000 at 10k reps)."""
    first = [f"E{i:05d}" for i in range(1200)]
    second = [None, *first[1000:], *(f"F{i:03d}" for i in range(300)), "F000"]
    inserts: list[bool] = []

    def capture(_c: object, _cursor: object, sql: str, _p: object, _x: object, many: bool) -> None:
        if sql.startswith("INSERT INTO adoption_dirty"):
            inserts.append(many)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.begin() as conn:
            records.mark_dirty(conn, first)
        with engine.begin() as conn:
            records.mark_dirty(conn, second)
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    t = schema.adoption_dirty
    with engine.connect() as conn:
        stored = conn.execute(select(t.c.hr_id)).scalars().all()
    assert sorted(stored) == sorted({*first, *(f"F{i:03d}" for i in range(300))})
    if engine.dialect.name == "postgresql":
        assert inserts == [False, False]  # one statement a call, no executemany
