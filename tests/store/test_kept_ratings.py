"""Issue 17 (an incremental run's estimates): the estimates process keeps every counted rating as
columns between runs (schema v12: estimate_ratings), and reads those and the ratings of the
people written since (estimate_dirty) instead of every rating. What it reads must be what
reading every rating gives, value for value and in the same order, over random edits of the
drops; columns read before a write of the inputs are never kept; an erasure forgets them.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from datetime import date
from pathlib import Path

import pytest
from bench.synthetic import OrgSpec, generate_org
from sqlalchemy import Engine, delete, func, select, update

from adoptloop.adoption.raters import (
    CountedRatings,
    KeptRatings,
    counted_ratings,
    kept_counted_ratings,
)
from adoptloop.domain import ERASED
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import erasures, records, schema
from adoptloop.store.db import open_store
from adoptloop.store.metrics import estimate_dirty, keep_rating_columns, kept_rating_columns
from tests.adoption.test_incremental_states import _edit, _edit_drops, _pull
from tests.adoption.test_kept_estimates import capabilities
from tests.store.conftest import postgres_server, postgres_url

__all__ = ["capabilities", "postgres_server", "postgres_url"]  # the fixtures this module uses

AS_OF = date(2026, 6, 30)


@pytest.fixture
def org(tmp_path: Path) -> Path:
    out = tmp_path / "org"
    generate_org(out, OrgSpec(reps=120, reps_per_manager=12, bad_rows=False))
    return out


def _same(found: CountedRatings, full: CountedRatings) -> None:
    """The same ratings, value for value, in the same order (their values': rater, day, rated
    rep, capability, scaled value), and the same raters' regions."""
    for column in ("raters", "reps", "capabilities", "days", "scaled"):
        assert getattr(found, column).tolist() == getattr(full, column).tolist(), column
    assert found.regions == full.regions
    rows = list(
        zip(
            full.raters.tolist(),
            full.days.tolist(),
            full.reps.tolist(),
            full.capabilities.tolist(),
            full.scaled.tolist(),
            strict=True,
        )
    )
    assert rows == sorted(rows)
    assert len(rows) > 100


def _read(engine: Engine, as_of: date = AS_OF) -> KeptRatings:
    """What the estimates process reads (checked against a read of every rating), unkept."""
    with engine.connect() as conn:
        found, kept = kept_counted_ratings(conn, as_of)
        _same(found, counted_ratings(conn, as_of))
    return kept


def _keep(engine: Engine, kept: KeptRatings, part: int = 4096) -> bool:
    """Keep what was read as the run does (in parts: small ones here, so that there are
    several)."""
    if kept.columns is None:
        return False
    data = kept.columns
    with engine.begin() as conn:
        return keep_rating_columns(
            conn, kept.stamp, (data[i : i + part] for i in range(0, len(data), part))
        )


def _marked(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return estimate_dirty(conn)


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_ratings_read_equal_every_rating_read_over_random_edits(
    org: Path, engine: Engine, capabilities: CapabilityMap, seed: int
) -> None:
    _pull(engine, org, capabilities)
    assert _marked(engine) == [], "nobody is marked while nothing is kept"
    first = _read(engine)
    assert first.columns is not None
    assert _keep(engine, first)
    with engine.connect() as conn:
        kept = kept_rating_columns(conn)
        assert kept is not None
        assert kept[0] == records.inputs_stamp(conn)

    again = _read(engine)  # nothing written since: nothing to keep
    assert again.columns is None
    assert not _keep(engine, again)

    for round_ in range(3):
        _edit_drops(org, seed * 10 + round_)
        _edit_reports(org, seed * 10 + round_)
        _pull(engine, org, capabilities)
        assert _marked(engine), "the pull marked whose ratings it wrote"
        read = _read(engine)
        # an as-of date before some visits: the kept columns hold every day, the read cuts
        _read(engine, date(2026, 3, 31))
        assert read.columns is not None
        assert _keep(engine, read)
        assert _marked(engine) == []
        _read(engine)  # the kept columns alone, after the edit
    o = schema.observations
    with engine.connect() as conn:
        gone = conn.execute(select(func.count()).where(o.c.deleted.is_(True))).scalar_one()
    assert gone > 0, "no report was deleted at the source"


def _edit_reports(folder: Path, seed: int) -> None:
    """More edits of the coaching reports' drop: a report gone from it (deleted at the source),
    another one's observer changed."""
    rng = random.Random(seed)  # noqa: S311 (test data, not security)
    managers: list[str] = []
    _edit(
        folder / "crm" / "coaching_reports.csv", lambda row: managers.append(row["Manager_vod__c"])
    )

    def report(row: dict[str, str]) -> bool:
        roll = rng.random()
        if roll < 0.03:
            return False
        if roll < 0.06:
            row["Manager_vod__c"] = rng.choice(managers)
        return True

    _edit(folder / "crm" / "coaching_reports.csv", report)


def test_ratings_read_before_a_write_of_the_inputs_are_not_kept(
    org: Path, engine: Engine, capabilities: CapabilityMap
) -> None:
    _pull(engine, org, capabilities)
    assert _keep(engine, _read(engine))
    _edit_drops(org, 5)
    _pull(engine, org, capabilities)
    marked = _marked(engine)
    stale = _read(engine)  # read, then the inputs are written again before it is kept
    _edit_drops(org, 6)
    _pull(engine, org, capabilities)
    assert not _keep(engine, stale)
    assert set(marked) <= set(_marked(engine)), "a mark made before the read was let go"
    assert _keep(engine, _read(engine))
    _read(engine)


def test_an_erasure_forgets_the_kept_ratings_and_no_read_from_before_it_is_kept(
    org: Path, engine: Engine, capabilities: CapabilityMap
) -> None:
    _pull(engine, org, capabilities)
    assert _keep(engine, _read(engine))
    o = schema.observations
    with engine.connect() as conn:
        observer = (
            conn.execute(
                select(o.c.observer_hr_id)
                .group_by(o.c.observer_hr_id)
                .order_by(func.count().desc())
            )
            .scalars()
            .first()
        )
    assert observer is not None
    _edit_drops(org, 7)
    _pull(engine, org, capabilities)
    before = _read(engine)  # columns to keep, read before the erasure
    assert before.columns is not None
    with engine.begin() as conn:  # what erasing them does to the inputs (pipeline/erase.py)
        erasures.forget_as_observer(conn, observer)
        records.forget_adoption_computation(conn)
    with engine.connect() as conn:
        assert kept_rating_columns(conn) is None
        assert estimate_dirty(conn) == []
    assert not _keep(engine, before), "columns read before the erasure were kept"
    with engine.connect() as conn:
        after, kept = kept_counted_ratings(conn, AS_OF)
        _same(after, counted_ratings(conn, AS_OF))
    assert observer not in after.raters.tolist()
    assert ERASED in after.raters.tolist()
    assert _keep(engine, kept)


@pytest.mark.parametrize("spoilt", ["another format", "cut short"])
def test_kept_ratings_of_another_format_or_not_whole_are_read_again(
    org: Path, engine: Engine, capabilities: CapabilityMap, spoilt: str
) -> None:
    _pull(engine, org, capabilities)
    assert _keep(engine, _read(engine), part=2**30)  # one part: its header rewritten below
    t = schema.estimate_ratings
    with engine.begin() as conn:
        packed = bytes(conn.execute(select(t.c.columns)).scalar_one())
        size = int.from_bytes(packed[:8], "little")
        if spoilt == "another format":
            header = packed[8 : 8 + size].replace(b'"format":1', b'"format":9')
            assert header != packed[8 : 8 + size]
            conn.execute(update(t).values(columns=packed[:8] + header + packed[8 + size :]))
        else:
            conn.execute(update(t).values(columns=packed[: len(packed) - 12]))
        # and a rating written since, behind the marks' back: a read of every rating sees it
        r = schema.ratings
        conn.execute(
            update(r)
            .where(r.c.record_id == select(func.min(r.c.record_id)).scalar_subquery())
            .values(scaled=0.0)
        )
        conn.execute(delete(schema.estimate_dirty))
    read = _read(engine)  # equal to every rating's read: the unreadable columns were not used
    assert read.columns is not None


def test_on_postgresql_a_keep_waits_for_a_write_of_the_inputs_not_yet_committed(
    org: Path, postgres_url: str, capabilities: CapabilityMap
) -> None:
    """PostgreSQL reads what is committed: a keep whose stamp check ran beside a pull's write
    not yet committed (the stamp moved, nobody marked yet) would keep columns that miss that
    write. The check reads the stamp's row locked, so it waits for the write and sees the new
    stamp: nothing is kept, and the pull's marks stay."""
    engine = open_store(postgres_url)
    try:
        _pull(engine, org, capabilities)
        assert _keep(engine, _read(engine))
        _edit_drops(org, 8)
        _pull(engine, org, capabilities)
        read = _read(engine)
        assert read.columns is not None
        writer = engine.connect()
        writer.begin()
        records.mark_dirty(writer, ["a-person"], rated=True)  # the stamp moved, uncommitted
        kept: list[bool] = []
        keeper = threading.Thread(target=lambda: kept.append(_keep(engine, read)))
        keeper.start()
        keeper.join(1.0)
        assert keeper.is_alive(), "the keep did not wait for the write"
        writer.commit()
        writer.close()
        keeper.join(30)
        assert kept == [False]
        assert "a-person" in _marked(engine)
        _read(engine)
    finally:
        engine.dispose()
