"""store.adoption.write_states (the states pass's rows as tuples) writes what
store.records.upsert_source_rows writes of the rows as mappings (how the pass wrote them
before), on SQLite and PostgreSQL: inserts, updates and what is left alone, the rows being
outcomes drawn at random (tests/adoption/test_state_rows.py)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from adoptloop.adoption import compute
from adoptloop.store import adoption, records, schema
from tests.adoption.scenario import D, capability_map
from tests.adoption.test_state_rows import mapping_row, outcomes


def by_mappings(conn: Connection, rows: list[dict[str, Any]]) -> records.WriteCounts:
    """The rows as mappings, written as the pass wrote them before."""
    return records.upsert_source_rows(
        conn, "adoption_states", adoption.SOURCE, rows, digest_exclude=compute._VOLATILE
    )


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    t = schema.adoption_states
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t).order_by(t.c.record_id))]


def test_write_states_stores_what_the_mapping_path_stores(engine: Engine) -> None:
    rows = list(outcomes(11, 120))
    as_mappings = [mapping_row(o, h, D) for o, h in rows]
    capabilities = capability_map()
    as_tuples = [
        compute.state_row(compute.outcome_values(o, capabilities, h, D), D) for o, h in rows
    ]
    with engine.begin() as conn:
        by_mapping = by_mappings(conn, as_mappings)
    stored = _stored(engine)
    with engine.begin() as conn:
        conn.execute(schema.adoption_states.delete())
    with engine.begin() as conn:
        by_tuple = adoption.write_states(conn, as_tuples[:100], new=True)
        by_tuple.add(adoption.write_states(conn, as_tuples[100:], new=False))
    assert _stored(engine) == stored
    assert (by_tuple.inserted, by_tuple.updated) == (by_mapping.inserted, 0) == (len(rows), 0)

    # a day later, some rows changed: the same updates, and a change of volatile fields
    # (as_of, censored_days) alone is none
    later = D + timedelta(days=1)
    rng = random.Random(3)  # noqa: S311 (a test's draws)
    for outcome, _ in rows:
        if rng.random() < 0.3:
            outcome.path.ever_adopted = not outcome.path.ever_adopted
    again = [mapping_row(o, h, later) for o, h in rows]
    with engine.begin() as conn:
        mapped = by_mappings(conn, again)
    updated = _stored(engine)
    with engine.begin() as conn:
        conn.execute(schema.adoption_states.delete())
        adoption.write_states(conn, as_tuples, new=True)
    with engine.begin() as conn:
        tupled = adoption.write_states(
            conn,
            [
                compute.state_row(compute.outcome_values(o, capabilities, h, later), later)
                for o, h in rows
            ],
        )
    assert _stored(engine) == updated
    assert (tupled.inserted, tupled.updated, tupled.unchanged) == (
        mapped.inserted,
        mapped.updated,
        mapped.unchanged,
    )
    assert 0 < tupled.updated < len(rows)


def test_a_later_row_of_a_batch_with_the_same_record_id_wins(engine: Engine) -> None:
    capabilities = capability_map()
    (outcome, history), *_ = outcomes(5, 1)
    first = compute.state_row(compute.outcome_values(outcome, capabilities, history, D), D)
    outcome.path.ever_adopted = not outcome.path.ever_adopted
    second = compute.state_row(compute.outcome_values(outcome, capabilities, history, D), D)
    assert first[-2] != second[-2]
    with engine.begin() as conn:
        counts = adoption.write_states(conn, [first, second], new=True)
    t = schema.adoption_states
    with engine.connect() as conn:
        assert conn.execute(select(t.c.record_id, t.c.digest)).all() == [(second[1], second[-2])]
    assert counts.inserted == 1
