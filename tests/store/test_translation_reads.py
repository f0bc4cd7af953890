"""Issue 17 (translate_vs_naive): the translate stage reads an observation's ratings as the
values of a domain.Rating, straight through the driver (no dict per rating, which the stage
also had to send to its worker process), grouped per observation in item order, on SQLite
and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import astuple

import pytest
from sqlalchemy import Engine, select
from structlog.testing import capture_logs

from adoptloop.domain import Rating
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline import translate as translate_stage
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import schema, translation
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace
from tests.store.rows import completion_row
from tests.support import DEMO_CONFIG, translate_workers_first


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


def _completions(count: int) -> list[dict[str, object]]:
    return [
        completion_row(
            "lms",
            f"C{n:03d}",
            hr_id=f"E{n}",
            digest=f"d{n}",
            translated_digest=f"d{n}" if n % 3 == 0 else None,  # every third one not due
        )
        for n in range(count)
    ]


def test_a_batchs_bounds_read_as_keys_give_the_rows_read_in_one_go(engine: Engine) -> None:
    """Issue 17 (the translate workers read their own rows): the stage's process reads only
    the keys of the next due rows (`changed_keys`), and the rows between two bounds
    (`changed_rows` after, through) are exactly those due rows, in order, on SQLite and
    PostgreSQL alike."""
    with engine.begin() as conn:
        conn.execute(schema.completions.insert(), _completions(30))
    with engine.connect() as conn:
        whole = translation.changed_rows(conn, "completions", ("", ""))
        spans, after = [], ("", "")
        while keys := translation.changed_keys(conn, "completions", after, 7):
            spans.append(translation.changed_rows(conn, "completions", after, keys[-1]))
            assert [(r["source"], r["record_id"]) for r in spans[-1]] == keys
            after = keys[-1]
    assert [len(span) for span in spans] == [7, 7, 6]
    assert [row for span in spans for row in span] == whole
    assert [r["record_id"] for r in whole] == [f"C{n:03d}" for n in range(30) if n % 3]


def test_the_translate_workers_read_their_batches_from_the_store(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the translate workers read their own rows): worker processes open the store
    from its URL (a PostgreSQL server's too) and translate the batches they read, written in
    read order."""
    translate_workers_first(monkeypatch)
    with engine.begin() as conn:
        conn.execute(schema.completions.insert(), _completions(60))
    monkeypatch.setattr(translate_stage, "BATCH_SIZE", 4)
    monkeypatch.setattr(translate_stage, "WORKER_AFTER", 8)
    context = TranslateContext(
        ns=Namespace("https://adoptloop.example.com/xapi"),
        actors=Pseudonymizer("https://adoptloop.example.com", b"k" * 16),
        capabilities=load_capability_map(DEMO_CONFIG.parent / "demo" / "capabilities.yaml"),
    )
    with capture_logs() as logs:
        counts = translate_stage.TranslateStage(engine, context, "run-1").run()
    with engine.connect() as conn:
        made = conn.execute(select(schema.outbox.c.hr_id).order_by(schema.outbox.c.seq))
        hr_ids = list(made.scalars())
    assert sum(entry.get("worker_batches", 0) for entry in logs) > 0
    assert counts["completions"]["statements"] == 40
    assert hr_ids == [f"E{n}" for n in range(60) if n % 3]
