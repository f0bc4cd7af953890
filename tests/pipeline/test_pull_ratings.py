"""The observations' ratings written by the pull (issue 17, pull CPU): when the ratings table
held none of the source's rows as the read began, an observation the read inserts has no
ratings to delete and none is looked for; anything else still replaces what is stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from adoptloop.connectors.people import hr_row
from adoptloop.domain import CoachingObservation, PersonRef, Rating
from adoptloop.pipeline.identity import IdentityResolver
from adoptloop.pipeline.pull_writer import RecordWriter
from adoptloop.store import identities, records, schema
from adoptloop.store.db import open_store
from tests.support import sql_run


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        for hr_id in ("E1", "M1"):
            person = hr_row(
                hr_id=hr_id,
                valid_from=date(2025, 1, 1),
                first_name="A",
                last_name=hr_id,
                role="rep",
                active=True,
            )
            records.upsert_people(conn, [person])
        identities.remember(
            conn,
            [
                identities.Identity("crm", "U1", "E1", "test"),
                identities.Identity("crm", "U2", "M1", "test"),
            ],
        )
    return engine


def _observation(record_id: str, *ratings: tuple[str, float]) -> CoachingObservation:
    return CoachingObservation(
        record_id,
        PersonRef("crm", "U2"),
        PersonRef("crm", "U1"),
        date(2026, 2, 1),
        "Europe/London",
        "Submitted",
        True,
        None,
        None,
        tuple(Rating(item, "cap", raw, 1.0, 5.0, round((raw - 1) / 4, 4)) for item, raw in ratings),
        False,
        False,
        0,
    )


def _write(engine: Engine, fresh: dict[str, bool] | None, *batch: CoachingObservation) -> list[str]:
    """One batch through the pull's writer; the SQL it ran."""
    with engine.begin() as conn, sql_run(engine) as statements:
        writer = RecordWriter(conn, "crm", IdentityResolver(()), fresh=fresh)
        for observation in batch:
            writer.add(observation)
        writer.write()
    return statements


def _ratings(engine: Engine) -> list[tuple[Any, ...]]:
    r = schema.ratings
    with engine.connect() as conn:
        query = select(r.c.record_id, r.c.item, r.c.raw).order_by(r.c.record_id, r.c.item)
        return [tuple(row) for row in conn.execute(query)]


def test_a_first_read_deletes_no_ratings_for_the_observations_it_inserts(engine: Engine) -> None:
    fresh: dict[str, bool] = {}
    statements = _write(engine, fresh, _observation("O1", ("a", 3.0)), _observation("O2"))
    assert not [s for s in statements if s.startswith("DELETE FROM ratings")]
    # the same read sends O1 again, changed, in a later batch: its ratings are replaced
    statements = _write(engine, fresh, _observation("O1", ("b", 4.0)), _observation("O3"))
    deletes = [s for s in statements if s.startswith("DELETE FROM ratings")]
    assert len(deletes) == 1
    assert deletes[0].count("?") == 2  # the source, and O1 alone (O3 is new)
    assert _ratings(engine) == [("O1", "b", 4.0)]


def test_ratings_stored_without_their_observation_are_replaced_when_it_is_inserted(
    engine: Engine,
) -> None:
    """The ratings table holds rows of the source (here ratings whose observation is not
    stored): an observation the read inserts may have ratings stored, which it replaces."""
    with engine.begin() as conn:
        conn.execute(
            insert(schema.ratings),
            [
                {"source": "crm", "record_id": "O1", "item": i, "capability_id": "cap"}
                | {"raw": 1.0, "scale_min": 1.0, "scale_max": 5.0, "scaled": 0.0}
                for i in ("a", "z")
            ],
        )
    statements = _write(engine, {}, _observation("O1", ("a", 5.0)))
    assert [s for s in statements if s.startswith("DELETE FROM ratings")]
    assert _ratings(engine) == [("O1", "a", 5.0)]


def test_a_read_of_unknown_freshness_replaces_the_ratings_of_every_observation_it_writes(
    engine: Engine,
) -> None:
    """Parked records taken up are written with no knowledge of the read (fresh=None)."""
    _write(engine, None, _observation("O1", ("a", 3.0)))
    with engine.begin() as conn:
        conn.execute(schema.observations.delete())  # the observation gone, its ratings kept
    statements = _write(engine, None, _observation("O1", ("a", 2.0)))
    assert [s for s in statements if s.startswith("DELETE FROM ratings")]
    assert _ratings(engine) == [("O1", "a", 2.0)]
