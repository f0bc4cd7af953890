"""Issue 17, point 3 (the PostgreSQL path): the states stage's plans on a store a stage has
just filled, on SQLite and a real PostgreSQL server.

At 10k reps the stage took 47 s on PostgreSQL (2.7 s on SQLite), growing faster than the org.
The cause, from auto_explain on the bench's store: each batch of the first computation looked
up the stored digests of its 1,000 rows in adoption_states with a plan PostgreSQL cached while
the table was nearly empty (no statistics: the index on `source` alone, then every row of the
table compared with the 1,000 ids), so each batch scanned all the rows written before it. The
other cost: the merge of ratings by person planned as a cursor (a nested loop over every
observation, for a fast first 10 %). Nothing here is timed: the tests check what runs and how
it is planned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from adoptloop.adoption.compute import update_states
from adoptloop.store import bulk, db, schema
from adoptloop.store.adoption import _ratings_query
from adoptloop.store.db import open_store, refresh_statistics
from tests.adoption.scenario import DISC, EPOCH, HIGH, LOW, OBJ, D, Scenario, day

LOOKUP = re.compile(r"SELECT \S*record_id\S*, \S*digest\S*.* FROM \S*adoption_states\b")


@pytest.fixture
def scenario(engine: Engine) -> Iterator[Scenario]:
    with engine.connect() as conn:
        yield Scenario(conn)


def _lookups(engine: Engine) -> list[str]:
    """The statements that look up stored adoption_states digests, as the engine runs them."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if LOOKUP.match(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return seen


def _states(engine: Engine) -> dict[str, tuple[str, str]]:
    t = schema.adoption_states
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.record_id, t.c.state, t.c.digest)).all()
    return {record_id: (state, digest) for record_id, state, digest in rows}


def test_a_first_states_computation_inserts_without_looking_up_stored_digests(
    engine: Engine, scenario: Scenario
) -> None:
    """Point 3: into an empty adoption_states every row is new, so no batch looks up stored
    digests (the lookup whose plan, cached while the table was nearly empty, scanned the whole
    table per batch on PostgreSQL); a later full computation still does, and changes nothing."""
    for n in range(30):
        scenario.trained(f"r{n:02d}", day(n % 7))
        scenario.rated(f"r{n:02d}", day(10 + n % 5), HIGH if n % 2 else LOW)
        scenario.rated(f"r{n:02d}", day(20), 0.6, capability=DISC)
    scenario.conn.commit()
    seen = _lookups(engine)

    first = update_states(engine, scenario.capabilities, D)
    written = _states(engine)
    assert (first["changed"], len(written)) == (60, 60)
    assert seen == []

    again = update_states(engine, scenario.capabilities, D, full=True)
    assert seen != []  # rows are stored now: they are looked up, not inserted twice
    assert again["changed"] == 0
    assert _states(engine) == written


# --- PostgreSQL: fresh statistics, and cursors planned for all their rows ------------------------


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    """A fresh PostgreSQL store (planner statistics and cursor plans are PostgreSQL's)."""
    engine = open_store(postgres_url)
    yield engine
    engine.dispose()


def _fill_ratings(engine: Engine, reps: int, visits: int) -> None:
    """`visits` counted visits per rep, each rating two capabilities (as a pull writes them)."""
    observations, ratings = [], []
    for rep in range(reps):
        for v in range(visits):
            record_id = f"V-{rep:04d}-{v:02d}"
            observations.append(
                {
                    "source": "crm",
                    "record_id": record_id,
                    "observer_hr_id": "M-1",
                    "observed_hr_id": f"E{rep:05d}",
                    "visit_date": EPOCH + timedelta(days=v * 9),
                    "timezone": "Europe/Paris",
                    "status": "Submitted",
                    "counted": True,
                    "submitted_at": None,
                    "modified_at": None,
                    "has_next_step": True,
                    "names_capability": True,
                    "word_count": 40,
                    "digest": "0" * 32,
                    "translated_digest": None,
                    "deleted": False,
                }
            )
            for capability in (OBJ, DISC):
                ratings.append(
                    {
                        "source": "crm",
                        "record_id": record_id,
                        "item": f"{capability}-rating",
                        "capability_id": capability,
                        "raw": 3.0,
                        "scale_min": 1.0,
                        "scale_max": 5.0,
                        "scaled": 0.5,
                    }
                )
    with engine.begin() as conn:
        bulk.insert_many(conn, schema.observations, list(observations[0]), observations)
        bulk.insert_many(conn, schema.ratings, list(ratings[0]), ratings)


def _analyzed(engine: Engine) -> dict[str, tuple[bool, float]]:
    """Per store table: whether ANALYZE ran on it (not autovacuum), and the planner's rows."""
    query = text(
        "SELECT s.relname, s.last_analyze IS NOT NULL, c.reltuples FROM pg_stat_user_tables s"
        " JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = current_schema()"
    )
    with engine.connect() as conn:
        return {name: (done, rows) for name, done, rows in conn.execute(query)}


def test_a_stage_that_filled_tables_leaves_their_planner_statistics_fresh(
    pg_engine: Engine,
) -> None:
    """Point 3: after a stage (store.db.refresh_statistics, run at the end of each stage) the
    tables it filled are analyzed, so the next stage plans on their real size, not on a
    never-analyzed table; a table unchanged since is not analyzed again."""
    _fill_ratings(pg_engine, reps=40, visits=25)

    analyzed = refresh_statistics(pg_engine)

    assert {"observations", "ratings"} <= set(analyzed)
    stats = _analyzed(pg_engine)
    assert stats["observations"] == (True, 1000)
    assert stats["ratings"] == (True, 2000)
    assert refresh_statistics(pg_engine) == []  # nothing changed since


def test_the_stage_analyzes_between_stages_in_a_run(pg_engine: Engine) -> None:
    """Point 3: the run's stage wrapper refreshes the statistics when a stage succeeds (the
    states stage then plans on analyzed inputs, the translate stage on analyzed states)."""
    from adoptloop.pipeline.run import _stage

    counts: dict[str, Any] = {}
    with _stage(counts, "pull", pg_engine):
        _fill_ratings(pg_engine, reps=10, visits=10)

    assert _analyzed(pg_engine)["ratings"] == (True, 200)
    assert "seconds" in counts["pull"]


def test_the_merge_of_ratings_by_person_is_planned_for_all_its_rows(pg_engine: Engine) -> None:
    """Point 3: the stage's server-side cursors are read to their end, so they are planned for
    all their rows (cursor_tuple_fraction = 1): the ratings are joined to their visits by a
    hash join and sorted once, not by a nested loop of index lookups, one per visit, chosen
    for a fast first 10 % of the rows."""
    _fill_ratings(pg_engine, reps=300, visits=12)
    refresh_statistics(pg_engine)
    query = _ratings_query(date(2030, 1, 1)).compile(
        dialect=pg_engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with pg_engine.connect() as conn:
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN DECLARE c CURSOR FOR {query}").scalars())
        conn.rollback()

    assert "Nested Loop" not in plan, plan
    assert "Hash Join" in plan, plan


def test_a_failed_statistics_refresh_is_a_warning_not_a_failed_stage(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 3 (a reviewer's read): the ANALYZE after a stage is an optimisation; the stage's
    data is committed by then, so an error there is logged, and the stage goes on."""

    def refuse(*_args: Any) -> list[str]:
        raise OperationalError("ANALYZE (SKIP_LOCKED) ratings", {}, Exception("syntax error"))

    monkeypatch.setattr(db, "_analyze_stale", refuse)
    with capture_logs() as logs:
        assert refresh_statistics(pg_engine) == []
    assert [e["event"] for e in logs] == ["statistics not refreshed"]
