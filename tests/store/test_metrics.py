"""The adoption metrics' and report's SQL (store/metrics.py) on SQLite and PostgreSQL.

Rep x capability rows are written as the adoption pass writes them; the people, visits,
ratings and actions with the adoption tests' scenario helper (tests/adoption/scenario.py):
D = 2024-06-30 and training on T = D - 120 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, update

from adoptloop.adoption import compute
from adoptloop.store import adoption, metrics, names, schema
from adoptloop.store import aggregates as kept
from adoptloop.store.metrics import RowSource
from tests.adoption.scenario import DISC, EPOCH, OBJ, D, Scenario, T, before, day, sqlite_store
from tests.adoption.scenario import Post as Career
from tests.store.rows import completion_row
from tests.support import sql_run


@pytest.fixture
def scenario(engine: Engine) -> Iterator[Scenario]:
    with engine.connect() as conn:
        yield Scenario(conn)


def outcome(hr_id: str, capability: str = OBJ, **values: Any) -> dict[str, Any]:
    """A trained rep's row in their cohort, not observed, unless told otherwise."""
    return {
        "hr_id": hr_id,
        "capability_id": capability,
        "trained_at": T,
        "trained_module": "MOD-OBJ-101",
        "window_end": day(90),
        "in_cohort": True,
        "observed": False,
        "proficient": False,
        "state": "trained-unobserved",
        "state_since": T,
        "ever_adopted": False,
        "days_to_proficient": None,
        "censored_days": 120,
        "region": "North",
        "manager_hr_id": "M-1",
        "transitions": "[]",
        **values,
    }


def scratch(s: Scenario, *rows: dict[str, Any]) -> RowSource:
    adoption.insert_scratch(s.conn, "c1", rows)
    adoption.insert_scratch(s.conn, "c2", [outcome("someone-else")])  # never counted
    return RowSource.scratch("c1")


def org(s: Scenario) -> RowSource:
    return scratch(
        s,
        outcome("n1", observed=True, proficient=True, state="sustained", days_to_proficient=10),
        outcome("n2", observed=True, state="developing"),
        outcome("n3", in_cohort=False, state="adopted", days_to_proficient=5),
        outcome("s1", region="South", state="regressed", trained_module="MOD-OBJ-201"),
        outcome("x1", region=None, manager_hr_id=None),
        outcome("n1", DISC, trained_module="MOD-DISC-101", days_to_proficient=3),
        outcome("untrained", trained_at=None, trained_module=None, state="untrained"),
    )


# --- the rep x capability rows -------------------------------------------------------------------


def test_trained_rows_are_every_trained_rep_x_capability_of_the_source(
    scenario: Scenario,
) -> None:
    source = org(scenario)

    got = sorted(metrics.trained_rows(scenario.conn, source))
    # every row with a trained_at, of computation c1 only; the untrained row is left out
    assert [(r.hr_id, r.capability_id) for r in got] == [
        ("n1", DISC),
        ("n1", OBJ),
        ("n2", OBJ),
        ("n3", OBJ),
        ("s1", OBJ),
        ("x1", OBJ),
    ]
    n1 = got[1]
    assert (n1.trained_at, n1.window_end, n1.in_cohort, n1.observed, n1.proficient) == (
        T,
        day(90),
        True,
        True,
        True,
    )
    assert (n1.state, n1.days_to_proficient, n1.trained_module) == ("sustained", 10, "MOD-OBJ-101")
    assert metrics.trained_per_capability(scenario.conn, source) == {OBJ: 5, DISC: 1}


def test_states_are_the_live_adoption_states_rows(scenario: Scenario) -> None:
    rows = [
        compute.state_row(tuple(outcome(r).get(f) for f in adoption.STATE_FIELDS), D)
        for r in ("a", "b")
    ]
    adoption.write_states(scenario.conn, rows)
    adoption.tombstone_states(scenario.conn, [f"b/{OBJ}"])

    assert [r.hr_id for r in metrics.trained_rows(scenario.conn, RowSource.states())] == ["a"]


# --- people on a date ----------------------------------------------------------------------------


def test_people_on_a_date_are_their_hr_rows_in_effect_then(scenario: Scenario) -> None:
    scenario.career("mover", Career(EPOCH, "North", "M-1"), Career(D, "South", "M-2"))
    scenario.manager("M-1", "North", "N-01", boss="D-1")
    scenario.rep("kam", "West", role="kam")
    scenario.rep("gone", left=before(10))

    assert metrics.regions_on(scenario.conn, before(1))["mover"] == "North"
    assert metrics.regions_on(scenario.conn, D)["mover"] == "South"  # valid_to is exclusive
    assert dict(metrics.territories_on(scenario.conn, D))["M-1"] == "N-01"


def test_people_of_one_region_share_its_name(scenario: Scenario) -> None:
    # the report reads everyone's region: one string per region, not one per person
    scenario.rep("a", "West")
    scenario.rep("b", "West")

    regions = metrics.regions_on(scenario.conn, D)

    assert regions["a"] == "West"
    assert regions["a"] is regions["b"]


def test_the_regions_of_some_people_are_theirs_alone(scenario: Scenario) -> None:
    # the report's raters and managers: not a row kept for everyone else
    scenario.career("mover", Career(EPOCH, "North", "M-1"), Career(D, "South", "M-2"))
    scenario.rep("a", "West")
    scenario.rep("b", "West")

    assert metrics.regions_on(scenario.conn, D, {"mover", "a", "nobody"}) == {
        "mover": "South",
        "a": "West",
    }
    assert metrics.regions_on(scenario.conn, D, ()) == {}


def test_display_names_read_a_few_people_at_a_time_as_all_at_once(
    scenario: Scenario, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report names every first-line manager: PEOPLE_PER_READ to a statement, not one
    IN list of all of them, with the names of reading them at once."""
    scenario.career("mover", Career(EPOCH, "North", "M-1"), Career(D, "South", "M-2"))
    for hr_id in ("a", "b", "c", "d"):
        scenario.rep(hr_id)
    scenario.conn.execute(
        update(schema.people)
        .where(schema.people.c.hr_id == "mover", schema.people.c.valid_from == D)
        .values(last_name="Moved")
    )
    scenario.conn.commit()
    wanted = ["d", "mover", "nobody", "a", "c"]
    at_once = names.display_names(scenario.conn, wanted, D)
    assert at_once == {"a": "Rep a", "c": "Rep c", "d": "Rep d", "mover": "Rep Moved"}
    assert names.display_names(scenario.conn, wanted, before(1))["mover"] == "Rep mover"

    monkeypatch.setattr(names, "PEOPLE_PER_READ", 2)
    with sql_run(engine) as statements:
        assert names.display_names(scenario.conn, wanted, D) == at_once
    reads = [s for s in statements if "first_name" in s]
    assert len(reads) == 3  # 5 people, 2 to a read
    assert names.display_names(scenario.conn, [], D) == {}


# --- visits, ratings, actions ---------------------------------------------------------------------


def test_visits_count_in_the_period_when_submitted_and_not_deleted(scenario: Scenario) -> None:
    since = before(90)
    scenario.visit("r1", since, {OBJ: 1.0})  # the first day is out
    scenario.visit("r1", since + timedelta(days=1), {OBJ: 1.0, DISC: 0.5}, observer="M-1")
    scenario.visit("r2", D, observer="M-2", submitted=D + timedelta(days=3))
    scenario.visit("r3", D, {OBJ: 1.0}, counted=False)
    scenario.visit("r4", D, {OBJ: 1.0}, deleted=True)
    scenario.visit("r5", D + timedelta(days=1), {OBJ: 1.0})

    assert metrics.visited_people(scenario.conn, since, D) == {"r1", "r2"}


def test_people_observed_by_their_own_manager_are_counted_by_the_database(
    scenario: Scenario,
) -> None:
    """Coach the coach: first-line managers (role `manager` on D) observed on a counted visit
    in (since, D] by the manager of their HR row on D; no row per manager read."""
    since = before(180)
    scenario.manager("M-1", "North", "N-01", boss="D-1")  # by D-1: counts
    scenario.visit("M-1", before(10), observer="D-1")
    scenario.visit("M-1", before(20), observer="D-1")  # twice: still one manager
    scenario.manager("M-2", "North", "N-02", boss="D-1")  # by someone else
    scenario.visit("M-2", before(10), observer="D-2")
    scenario.manager("M-3", "South", "S-01", boss="D-2")  # on `since`: out of the period
    scenario.visit("M-3", since, observer="D-2")
    scenario.manager("M-4", "South", "S-02", boss="D-2")  # a draft and a deleted visit
    scenario.visit("M-4", before(5), observer="D-2", counted=False)
    scenario.visit("M-4", before(6), observer="D-2", deleted=True)
    scenario.manager("M-5", "South", "S-03")  # no manager of their own; a visit after D
    scenario.visit("M-5", D + timedelta(days=1), observer="D-2")
    # D-3 became M-6's manager on D: their visit before counts, the old manager's does not
    scenario.career(
        "M-6",
        Career(EPOCH, "West", "D-2", "W-01", role="manager"),
        Career(D, "West", "D-3", "W-01", role="manager"),
    )
    scenario.visit("M-6", before(30), observer="D-3")
    scenario.career(
        "M-7",
        Career(EPOCH, "West", "D-2", "W-02", role="manager"),
        Career(D, "West", "D-3", "W-02", role="manager"),
    )
    scenario.visit("M-7", before(30), observer="D-2")
    scenario.rep("r1", manager="D-1")  # a rep observed by their manager: not a manager
    scenario.visit("r1", before(10), observer="D-1")

    assert metrics.observed_by_their_manager(scenario.conn, since, D, "manager") == (2, 7)


def _sunday_0(day: date) -> int:
    return (day.weekday() + 1) % 7


def test_kept_visits_are_each_visit_s_figures_replaced_per_person(scenario: Scenario) -> None:
    """Issue 17, ADOPTION stage points 1 and 2: metric_visits holds one row per counted, not
    deleted visit of any date, computed by the database (days to submission, weekday,
    ratings, their scaled sum, top-box ratings), and metric_ratings the ratings per capability
    and day, written by the same INSERT ... SELECTs; the visits in a period, counted, equal
    the same figures read from the store's visits and ratings; a person's rows are replaced
    with their other kept contributions."""
    since = before(90)
    visited = since + timedelta(days=1)
    scenario.visit("r1", since, {OBJ: 1.0})  # the first day is out
    scenario.visit("r1", visited, {OBJ: 1.0, DISC: 0.5}, observer="M-1")
    scenario.visit("r2", D, observer="M-2", submitted=D + timedelta(days=3))
    scenario.visit("r3", D, {OBJ: 1.0}, counted=False)
    scenario.visit("r4", D, {OBJ: 1.0}, deleted=True)
    scenario.visit("r5", D + timedelta(days=1), {OBJ: 1.0})
    conn = scenario.conn

    kept.write_visits(conn, None, top_box=1.0)

    period = sorted(kept.visits_between(conn, since, D), key=str)
    assert period == sorted(
        [("M-1", 0, _sunday_0(visited), 2, 1.5, 1, 1), ("M-2", 3, _sunday_0(D), 0, 0.0, 0, 1)],
        key=str,
    )
    assert sorted(kept.visits_of_period(conn, since, D, top_box=1.0), key=str) == period
    assert sorted(kept.rated_sums(conn, None)) == sorted(  # ratings per capability and day
        [(OBJ, since, 1), (OBJ, visited, 1), (DISC, visited, 1), (OBJ, D + timedelta(days=1), 1)]
    )
    assert sorted(kept.rated_sums(conn, ["r1", "r2"])) == sorted(
        [(OBJ, since, 1), (OBJ, visited, 1), (DISC, visited, 1)]
    )
    every = sorted(kept.visits_between(conn, date.min, date.max), key=str)
    assert sum(n for *_, n in every) == 4  # any date: r1 twice, r2, r5
    kept.replace_contributions(conn, ["r1"], [], [])
    assert sum(n for *_, n in kept.visits_between(conn, date.min, date.max)) == 2
    assert kept.rated_sums(conn, ["r1"]) == []
    kept.write_visits(conn, ["r1"], top_box=1.0)
    assert sorted(kept.visits_between(conn, date.min, date.max), key=str) == every


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # PostgreSQL writes them at once
def test_staged_visits_copied_in_parts_equal_the_visits_written_at_once(
    engine: Engine, scenario: Scenario
) -> None:
    """Issue 17 (the first adoption pass): on SQLite a full rebuild stages the visits' rows in
    temporary tables beside the states pass and copies them in parts, one transaction each
    (the pass writes between them): every part together is the same rows as write_visits
    for everyone, and the ratings per capability and day summed from the staged table before
    the copy are rated_sums' of the copied rows."""
    since = before(90)
    scenario.visit("r1", since, {OBJ: 1.0})
    scenario.visit("r1", since + timedelta(days=1), {OBJ: 1.0, DISC: 0.5}, observer="M-1")
    scenario.visit("r2", D, observer="M-2", submitted=D + timedelta(days=3))
    scenario.visit("r3", D, {OBJ: 1.0}, counted=False)
    scenario.visit("r4", D, {OBJ: 0.5, DISC: 1.0})
    scenario.visit("r5", D + timedelta(days=1), {OBJ: 1.0})
    conn = scenario.conn
    conn.commit()

    def kept_rows() -> tuple[list[Any], list[Any]]:
        return (
            sorted(tuple(r) for r in conn.execute(select(schema.metric_visits))),
            sorted(tuple(r) for r in conn.execute(select(schema.metric_ratings))),
        )

    kept.write_visits(conn, None, top_box=1.0)
    at_once, rated = kept_rows(), sorted(kept.rated_sums(conn, None))
    assert len(at_once[0]) == 5
    assert len(at_once[1]) == 6
    kept.clear(conn)
    conn.commit()

    kept.stage_visits(conn, top_box=1.0)
    assert sorted(kept.staged_rated_sums(conn)) == rated
    parts = kept.staged_parts(conn, 2)
    assert [table for table, *_ in parts] == ["kept_visits"] * 3 + ["kept_ratings"] * 3
    for part in parts:
        kept.insert_staged_visits(conn, part)
        conn.commit()
    kept.drop_staged(conn)
    assert kept_rows() == at_once
    assert sorted(kept.rated_sums(conn, None)) == rated


def test_rating_recency_counts_the_period_and_dates_the_latest(scenario: Scenario) -> None:
    since = before(90)
    scenario.rated("r1", before(100), 0.5)
    scenario.rated("r1", before(5), 0.5)
    scenario.rated("r2", before(3), 0.5)
    scenario.rated("r2", before(200), 0.5, capability=DISC)
    scenario.rated("r3", D + timedelta(days=1), 0.5, capability=DISC)  # after D

    assert sorted(metrics.rating_recency(scenario.conn, since, D)) == [
        (DISC, 0, before(200)),
        (OBJ, 2, before(3)),
    ]


def test_due_actions_are_those_due_in_the_period_and_agreed_by_d(scenario: Scenario) -> None:
    since = before(90)
    scenario.action("r1", before(10), before(12))
    scenario.action("r1", before(5), status="cancelled")  # not due
    scenario.action("r1", since)  # due on the first day: out
    scenario.action("r1", D)  # due on D: in
    scenario.action("left", before(20), capability=DISC)  # whose it is: the caller's business
    scenario.action("r1", before(3), agreed=D + timedelta(days=1))  # agreed after D: out

    due = sorted(a for batch in metrics.due_actions(scenario.conn, since, D) for a in batch)
    assert due == [
        metrics.DueAction("left", DISC, before(20), None),
        metrics.DueAction("r1", OBJ, before(10), before(12)),
        metrics.DueAction("r1", OBJ, D, None),
    ]
    # Issue 17 (the adoption stage's memory flat to 50k): by owner, a batch at a time, so the
    # caller holds a batch and its owners' HR rows, not the period's actions
    batches = list(metrics.due_actions(scenario.conn, since, D, per_fetch=2))
    assert [len(b) for b in batches] == [2, 1]
    assert [a.hr_id for b in batches for a in b] == ["left", "r1", "r1"]
    assert sorted(a for b in batches for a in b) == due


def test_newest_dates_per_source_and_of_the_hr_rows(scenario: Scenario) -> None:
    scenario.completed("r1", "MOD-OBJ-101", before(3))
    scenario.rated("r1", before(5), 0.5)
    scenario.action("r1", before(1))  # agreed 30 days before it is due
    scenario.career("r1", Career(EPOCH, "North"), Career(date(2024, 1, 1), "South"))

    latest, people = metrics.newest_dates(scenario.conn)

    assert sorted(latest["lms"]) == [before(3).isoformat()]
    assert sorted(latest["crm"]) == sorted([before(5).isoformat(), before(31).isoformat()])
    assert people == "2024-01-01"
    scenario.conn.rollback()
    assert metrics.newest_dates(scenario.conn) == ({}, "")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the plan is SQLite's
def test_the_period_s_ratings_are_read_from_its_visits_not_from_the_whole_history(
    scenario: Scenario, engine: Engine
) -> None:
    """Issue 17, point 1 (the report's reinforcement, computed in full without kept sums): on
    SQLite, which keeps no planner statistics, the joins of visits and ratings read the
    period's visits and look their ratings up by key; they never walk every rating
    of the history (SCAN ratings), which made them grow with the history, not the period."""
    since = before(90)
    scenario.rated("r1", before(5), 0.5)
    scenario.rated("r2", before(200), 0.5, capability=DISC)  # rated before the period only
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        metrics.rating_recency(scenario.conn, since, D)
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    joins = [(s, p) for s, p in statements if " JOIN " in s and "ratings." in s]
    assert len(joins) >= 2  # recency, and the older ratings of DISC
    with engine.connect() as conn:
        plans = [
            [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p)] for s, p in joins
        ]
    for plan in plans:
        assert plan[0].startswith("SCAN observations"), plan
        assert not any(step.startswith("SCAN ratings") for step in plan), plan


def _decoded(read: metrics.RatingColumns) -> list[tuple[str, str, str, int, float]]:
    """(observer, observed person, capability, day ordinal, scaled) of each rating read."""
    n = read.names
    return [
        (n[m], n[p], n[c], d, s)
        for m, p, c, d, s in zip(
            read.observers, read.observed, read.capabilities, read.days, read.scaled, strict=True
        )
    ]


def test_rating_columns_are_the_counted_ratings_as_plain_columns(scenario: Scenario) -> None:
    """Issue 17, estimates stage, point 1 (the counted ratings read cheaply for both
    estimators): one read gives every rating on a counted, not deleted visit in (since, D] as
    columns of plain values, on SQLite and PostgreSQL alike: visit days as date ordinals
    computed by the database, scaled values as doubles, each distinct id one string object
    (in the database's order: adoption/raters.py sorts them); `dirty`: only the ratings of the
    people marked in estimate_dirty, of any day."""
    since = before(90)
    scenario.visit("r2", before(3), {OBJ: 0.75}, observer="M-1")
    scenario.visit("r1", before(40), {OBJ: 1.0, DISC: 0.25}, observer="M-1")
    scenario.visit("r1", before(40), {DISC: 0.5}, observer="M-0")
    scenario.visit("r1", since, {OBJ: 1.0})  # the first day is out
    scenario.visit("r3", before(200), {OBJ: 0.5}, observer="M-2")  # before the period
    scenario.visit("r3", D, {OBJ: 1.0}, counted=False)
    scenario.visit("r4", D, {OBJ: 1.0}, deleted=True)
    scenario.visit("r5", D + timedelta(days=1), {OBJ: 1.0})  # after D

    def rows(read: metrics.RatingColumns) -> list[tuple[str, str, str, int, float]]:
        return sorted(_decoded(read))

    period = metrics.rating_columns(scenario.conn, since, D)
    assert rows(period) == sorted(
        [
            ("M-0", "r1", DISC, before(40).toordinal(), 0.5),
            ("M-1", "r1", DISC, before(40).toordinal(), 0.25),
            ("M-1", "r1", OBJ, before(40).toordinal(), 1.0),
            ("M-1", "r2", OBJ, before(3).toordinal(), 0.75),
        ]
    )
    assert {a.typecode for a in (period.observers, period.observed, period.capabilities)} == {"i"}
    assert (period.days.typecode, period.scaled.typecode) == ("i", "d")
    assert len(set(period.names)) == len(period.names)  # one code per distinct id
    every = metrics.rating_columns(scenario.conn, None, D)
    assert [r[:2] for r in rows(every)] == [
        ("M-0", "r1"),
        ("M-1", "r1"),
        ("M-1", "r1"),
        ("M-1", "r1"),
        ("M-1", "r2"),
        ("M-2", "r3"),
    ]
    assert sorted(r[3] for r in rows(every))[:2] == [before(200).toordinal(), since.toordinal()]
    assert len(rows(metrics.rating_columns(scenario.conn, None, None))) == 7  # and after D

    scenario.conn.execute(insert(schema.estimate_dirty), [{"hr_id": "r1"}, {"hr_id": "r5"}])
    marked = metrics.rating_columns(scenario.conn, None, None, dirty=True)
    assert {(r[1], r[3]) for r in rows(marked)} == {
        ("r1", before(40).toordinal()),
        ("r1", since.toordinal()),
        ("r5", (D + timedelta(days=1)).toordinal()),
    }
    assert len(rows(marked)) == 5


def test_rating_columns_give_the_plain_query_s_ratings_on_random_visits(
    scenario: Scenario,
) -> None:
    """Issue 17, estimates process (point 2: the read as integer codes): on random visits, the
    codes decoded through `names` give the very values of the plain query the estimators read
    before (in the database's order: adoption/raters.py sorts them)."""
    import random

    from sqlalchemy import and_, select

    from adoptloop.store import schema

    rng = random.Random(17)  # noqa: S311 - test data
    for _ in range(120):
        scenario.visit(
            f"r{rng.randrange(15)}",
            before(rng.randrange(-3, 400)),
            {
                c: rng.choice([0.0, 0.25, 0.5, 1.0])
                for c in rng.sample([OBJ, DISC], rng.randint(1, 2))
            },
            observer=f"M-{rng.randrange(6)}",
            counted=rng.random() > 0.1,
            deleted=rng.random() < 0.05,
        )
    o, r = schema.observations, schema.ratings
    for since in (None, before(200)):
        dated = [o.c.visit_date <= D] + ([] if since is None else [o.c.visit_date > since])
        plain = scenario.conn.execute(
            select(
                o.c.observer_hr_id,
                o.c.observed_hr_id,
                r.c.capability_id,
                o.c.visit_date,
                r.c.scaled,
            )
            .join_from(o, r, and_(r.c.source == o.c.source, r.c.record_id == o.c.record_id))
            .where(o.c.counted.is_(True), o.c.deleted.is_(False), *dated)
            .order_by(o.c.observer_hr_id, o.c.visit_date, o.c.record_id, r.c.item)
        ).all()
        read = metrics.rating_columns(scenario.conn, since, D)
        decoded = [(m, p, c, date.fromordinal(d), s) for m, p, c, d, s in _decoded(read)]
        assert len(plain) > 20
        assert sorted(decoded) == sorted((m, p, c, _day(d), s) for m, p, c, d, s in plain)


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the plan is SQLite's
def test_rating_columns_read_the_visits_first_and_look_their_ratings_up_by_key(
    scenario: Scenario, engine: Engine
) -> None:
    """Issue 17, estimates process (point 2: a faster read): on SQLite, the counted ratings'
    read scans the visits and looks each one's ratings up by key, instead of walking the
    ratings' index and looking each rating's visit up (about a fifth less CPU at 10,000
    reps)."""
    scenario.visit("r1", before(5), {OBJ: 0.5})
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if " JOIN " in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        metrics.rating_columns(scenario.conn, None, D)
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    [(statement, parameters)] = statements
    with engine.connect() as conn:
        plan = [
            row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
    assert plan[0].startswith("SCAN o"), plan
    assert any(step.startswith("SEARCH r USING INDEX") for step in plan), plan


def test_the_trained_rows_of_some_people_are_found_by_the_person_index(tmp_path: Path) -> None:
    """Issue 17 (the first adoption pass at 50k; an incremental run's cost): the kept metrics
    read the trained rows of chunks of people; SQLite finds them through adoption_states'
    index on (source, hr_id) (v11), where it scanned every row of the table for each chunk. (On
    PostgreSQL the index is the migrations test's: an upgraded store matches schema.py.)"""
    source = RowSource.states()
    query = select(source.table.c.hr_id).where(source.where, source.table.c.hr_id.in_(["a", "b"]))
    with sqlite_store(tmp_path) as engine, engine.connect() as conn:
        sql = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_adoption_states_source_hr_id (source=? AND hr_id=?)" in plan


def test_newest_dates_of_a_table_several_sources_fill_are_each_source_s(engine: Engine) -> None:
    """Issue 17 (the adoption stage of an incremental run): a table one source fills gives that
    source its newest row's date (read through an index); a table several fill, each its own."""

    def completion(source: str, n: int, day: str) -> dict[str, Any]:
        return completion_row(source, f"C{n}", hr_id=f"E{n}", completed_at=f"{day}T10:00:00.000Z")

    days = {"lms": ["2026-03-01", "2026-01-09"], "b-lms": ["2026-02-11", "2026-04-02"]}
    with engine.begin() as conn:
        conn.execute(
            schema.completions.insert(),
            [completion(s, n, d) for s, ds in days.items() for n, d in enumerate(ds)],
        )
        conn.execute(
            schema.development_actions.insert(),
            [
                {
                    "source": "crm-actions",
                    "record_id": f"A{n}",
                    "hr_id": "E1",
                    "capability_id": "objection_handling",
                    "agreed_on": agreed,
                    "due_on": date(2026, 6, 1),
                    "completed_on": None,
                    "status": "open",
                    "digest": "d",
                    "translated_digest": None,
                    "deleted": False,
                }
                for n, agreed in enumerate([date(2026, 5, 2), date(2026, 5, 20), date(2026, 4, 1)])
            ],
        )
    with engine.connect() as conn:
        latest, people = metrics.newest_dates(conn)
    assert latest == {"lms": ["2026-03-01"], "b-lms": ["2026-04-02"], "crm-actions": ["2026-05-20"]}
    assert people == ""
