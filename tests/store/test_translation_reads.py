"""Issue 17 (translate_vs_naive): the translate stage reads an observation's ratings as the
values of a domain.Rating, straight through the driver (no dict per rating, which the stage
also had to send to its worker process), grouped per observation in item order, on SQLite
and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import astuple

from sqlalchemy import Engine

from adoptloop.domain import Rating
from adoptloop.store import schema, translation


def test_ratings_are_read_as_rating_values_per_observation_in_item_order(
    engine: Engine,
) -> None:
    ratings = [
        ("crm", "V2", "Opening", "opening", 4.0, 1.0, 5.0, 0.75),
        ("crm", "V1", "Questions", "questions", 2.0, 1.0, 5.0, 0.25),
        ("crm", "V1", "Closing", "closing", 5.0, None, None, 0.0),  # stored before v3
        ("crm", "V3", "Opening", "opening", 1.0, 1.0, 5.0, 0.0),  # not asked for
        ("lms", "V1", "Opening", "opening", 3.0, 1.0, 5.0, 0.5),  # another source
    ]
    columns = ("source", "record_id", "item", "capability_id", "raw", "scale_min", "scale_max")
    with engine.begin() as conn:
        conn.execute(
            schema.ratings.insert(),
            [dict(zip((*columns, "scaled"), r, strict=True)) for r in ratings],
        )
    observations = [
        {"source": "crm", "record_id": "V1"},
        {"source": "crm", "record_id": "V2"},
        {"source": "lms", "record_id": "V1"},
        {"source": "lms", "record_id": "V9"},  # no ratings
    ]
    with engine.connect() as conn:
        read = translation.ratings_of(conn, observations)
    assert dict(read) == {
        ("crm", "V1"): [
            ("Closing", "closing", 5.0, None, None, 0.0),
            ("Questions", "questions", 2.0, 1.0, 5.0, 0.25),
        ],
        ("crm", "V2"): [("Opening", "opening", 4.0, 1.0, 5.0, 0.75)],
        ("lms", "V1"): [("Opening", "opening", 3.0, 1.0, 5.0, 0.5)],
    }
    assert all(type(values) is tuple for values in read[("crm", "V1")])
    # in the order of Rating's fields
    assert read[("crm", "V2")][0] == astuple(Rating("Opening", "opening", 4.0, 1.0, 5.0, 0.75))
