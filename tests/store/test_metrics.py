"""The adoption metrics' and report's SQL (store/metrics.py) on SQLite and PostgreSQL.

Rep x capability rows are written as the adoption pass writes them; the people, visits,
ratings and actions with the adoption tests' scenario helper (tests/adoption/scenario.py):
D = 2024-06-30 and training on T = D - 120 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from adoptloop.store import adoption, metrics
from adoptloop.store.metrics import NO_GROUP, GroupCounts, RowSource
from tests.adoption.scenario import DISC, EPOCH, OBJ, D, Scenario, T, before, day
from tests.adoption.scenario import Post as Career


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


def test_group_counts_count_the_trained_reps_per_group_and_capability(scenario: Scenario) -> None:
    source = org(scenario)

    by_region = sorted(metrics.group_counts(scenario.conn, source, "region"))
    everyone = sorted(metrics.group_counts(scenario.conn, source, None))

    assert by_region == [
        GroupCounts(NO_GROUP, OBJ, 1, 1, 0, 0, 0, 0, 0),
        GroupCounts("North", DISC, 1, 1, 0, 0, 0, 0, 0),
        # n1 sustained (in the cohort), n2 observed, n3 outside the cohort
        GroupCounts("North", OBJ, 3, 2, 2, 1, 1, 0, 1),
        GroupCounts("South", OBJ, 1, 1, 0, 0, 0, 1, 0),
    ]
    assert everyone == [
        GroupCounts(None, DISC, 1, 1, 0, 0, 0, 0, 0),
        GroupCounts(None, OBJ, 5, 4, 2, 1, 1, 1, 1),
    ]
    modules = {
        (c.group, c.capability_id)
        for c in metrics.group_counts(scenario.conn, source, "trained_module")
    }
    assert modules == {
        ("MOD-OBJ-101", OBJ),
        ("MOD-OBJ-201", OBJ),
        ("MOD-DISC-101", DISC),
    }


def test_states_are_the_live_adoption_states_rows(scenario: Scenario) -> None:
    rows = [{**outcome(r), "record_id": f"{r}/{OBJ}", "as_of": D} for r in ("a", "b")]
    adoption.upsert_states(scenario.conn, rows, volatile=())
    adoption.tombstone_states(scenario.conn, [f"b/{OBJ}"])

    (counts,) = metrics.group_counts(scenario.conn, RowSource.states(), None)
    assert counts.trained == 1


def test_proficiency_times_come_grouped_by_group_and_capability(scenario: Scenario) -> None:
    source = org(scenario)

    times = list(metrics.proficiency_times(scenario.conn, source, "region"))
    keys = [(g, c) for g, c, _, _ in times]
    runs = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert len(runs) == len(set(keys)) == 4  # each (group, capability) in one run
    assert len(times) == 6  # every trained rep, once
    north_obj = sorted(d for g, c, _, d in times if (g, c) == ("North", OBJ) and d is not None)
    assert north_obj == [5, 10]
    everyone = list(metrics.proficiency_times(scenario.conn, source, None))
    assert [c for _, c, _, _ in everyone] == [DISC] + [OBJ] * 5
    assert {g for g, _, _, _ in everyone} == {None}
    assert all(trained == T for _, _, trained, _ in everyone)


def test_capability_times_and_trained_counts(scenario: Scenario) -> None:
    source = org(scenario)

    assert metrics.capability_times(scenario.conn, source, DISC) == [(T, 3)]
    assert metrics.trained_per_capability(scenario.conn, source) == {OBJ: 5, DISC: 1}


# --- people on a date ----------------------------------------------------------------------------


def test_people_on_a_date_are_their_hr_rows_in_effect_then(scenario: Scenario) -> None:
    scenario.career("mover", Career(EPOCH, "North", "M-1"), Career(D, "South", "M-2"))
    scenario.manager("M-1", "North", "N-01", boss="D-1")
    scenario.rep("kam", "West", role="kam")
    scenario.rep("gone", left=before(10))

    assert metrics.regions_on(scenario.conn, before(1))["mover"] == "North"
    assert metrics.regions_on(scenario.conn, D)["mover"] == "South"  # valid_to is exclusive
    assert dict(metrics.territories_on(scenario.conn, D))["M-1"] == "N-01"
    field = {p.hr_id: p for p in metrics.people_in_roles_on(scenario.conn, D, ["rep", "kam"])}
    assert sorted(field) == ["gone", "kam", "mover"]
    assert field["gone"].termination_date == before(10)
    assert (field["mover"].region, field["mover"].manager_hr_id) == ("South", "M-2")
    assert metrics.managers_in_role_on(scenario.conn, D, "manager") == {"M-1": "D-1"}


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
    assert sorted(metrics.visits(scenario.conn, since, D)) == [
        ("M-1", since + timedelta(days=1), f"{(since + timedelta(days=1)).isoformat()}T17:00:00Z"),
        ("M-2", D, f"{(D + timedelta(days=3)).isoformat()}T17:00:00Z"),
    ]
    (rated,) = metrics.observer_ratings(scenario.conn, since, D, top_box=1.0)
    assert rated == metrics.ObserverRatings("M-1", 2, 1.5, 1, 1)
    pairs = metrics.observation_pairs(scenario.conn, since, D, ["r1", "r2", "r3"])
    assert pairs == {("r1", "M-1"), ("r2", "M-2")}


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


def test_due_actions_follow_the_owners_row_on_d(scenario: Scenario) -> None:
    since = before(90)
    scenario.rep("r1", "North", "M-1")
    scenario.rep("left", "South", left=before(30))
    scenario.action("r1", before(10), before(12))
    scenario.action("r1", before(5), status="cancelled")
    scenario.action("r1", since)  # due on the first day: out
    scenario.action("left", before(20))  # the owner still has a row on D (terminated)
    scenario.action("nobody", before(20))  # no HR row at all: dropped

    due = {action[0]: action for action in metrics.due_actions(scenario.conn, since, D)}
    assert due == {
        before(10): (before(10), before(12), "North", "M-1", "M-1"),
        before(20): (before(20), None, "South", "M-1", "M-1"),
    }


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
