"""The adoption states' SQL (store/adoption.py) on SQLite and PostgreSQL.

The facts are written with the adoption tests' scenario helper (tests/adoption/scenario.py):
D = 2024-06-30 and training on T = D - 120 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adoptloop.adoption import compute
from adoptloop.store import adoption, records, schema
from adoptloop.store.adoption import HRRow
from tests.adoption.scenario import DISC, EPOCH, HIGH, LOW, OBJ, D, Scenario, day
from tests.adoption.scenario import Post as Career


@pytest.fixture
def scenario(engine: Engine) -> Iterator[Scenario]:
    with engine.connect() as conn:
        yield Scenario(conn)


def state_row(hr_id: str, capability: str = OBJ, **values: Any) -> dict[str, Any]:
    """An adoption_states row as the adoption pass writes it (untrained unless told)."""
    return {
        "record_id": f"{hr_id}/{capability}",
        "hr_id": hr_id,
        "capability_id": capability,
        "trained_at": None,
        "trained_module": None,
        "window_end": None,
        "in_cohort": False,
        "observed": False,
        "proficient": False,
        "state": "untrained",
        "state_since": None,
        "ever_adopted": False,
        "days_to_proficient": None,
        "censored_days": None,
        "region": None,
        "manager_hr_id": None,
        "transitions": "[]",
        "as_of": D,
        **values,
    }


def write(scenario: Scenario, rows: list[dict[str, Any]]) -> records.WriteCounts:
    """Write `rows` (state_row's) as the adoption pass does (adoption.compute.state_row,
    store.adoption.write_states): as_of and censored_days are volatile."""
    tuples = [
        compute.state_row(tuple(row.get(f) for f in adoption.STATE_FIELDS), row["as_of"])
        for row in rows
    ]
    return adoption.write_states(scenario.conn, tuples)


def live(scenario: Scenario) -> dict[str, str]:
    t = schema.adoption_states
    query = select(t.c.record_id, t.c.state).where(t.c.deleted.is_(False))
    return dict(scenario.conn.execute(query).all())


# --- the inputs --------------------------------------------------------------------------------


def test_person_inputs_give_each_person_once_with_their_rows_in_order(scenario: Scenario) -> None:
    scenario.career("r1", Career(EPOCH, "North", "M-1"), Career(day(30), "South", "M-2"))
    scenario.completed("r1", "MOD-OBJ-201", day(5))
    scenario.completed("r1", "MOD-OBJ-201", day(2), status="passed")  # the earlier one counts
    scenario.completed("r1", "MOD-OBJ-101", day(1), status="failed")  # never counts
    scenario.completed("r1", "MOD-DISC-101", day(3), deleted=True)  # never counts
    scenario.completed("r1", "MOD-DISC-101", D + timedelta(days=5))  # kept: the caller cuts
    scenario.rated("r1", day(20), LOW)
    scenario.rated("r1", day(10), HIGH)
    scenario.rated("r1", day(15), 0.6, capability=DISC)
    scenario.rated("r1", day(12), HIGH, counted=False)  # a draft: not a rating
    scenario.rated("r1", D + timedelta(days=1), HIGH)  # after D: not yet
    scenario.completed("only-trained", "MOD-OBJ-101", day(0))  # no HR row
    scenario.rated("only-rated", day(4), HIGH)
    scenario.rep("only-hr")

    people = {p.hr_id: p for p in adoption.person_inputs(scenario.conn, D)}

    assert sorted(people) == ["only-hr", "only-rated", "only-trained", "r1"]
    r1 = people["r1"]
    assert r1.posts == [
        HRRow(EPOCH, day(30), "rep", "North", "M-1", "active", None, None),
        HRRow(day(30), None, "rep", "South", "M-2", "active", None, None),
    ]
    assert r1.completions == [
        ("MOD-DISC-101", D + timedelta(days=5)),
        ("MOD-OBJ-201", day(2)),
    ]
    assert [(capability, day_, scaled) for capability, day_, _, scaled in r1.ratings] == [
        (DISC, day(15), 0.6),
        (OBJ, day(10), HIGH),
        (OBJ, day(20), LOW),
    ]
    # (capability, visit date, visit id, scaled): plain tuples of these types
    assert all(
        type(r) is tuple and [type(v) for v in r] == [str, date, str, float] for r in r1.ratings
    )
    assert people["only-trained"].posts == []
    assert people["only-rated"].completions == []
    assert (people["only-hr"].completions, people["only-hr"].ratings) == ([], [])


def test_person_inputs_take_only_the_people_asked_for_in_chunks(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rep in ("a", "b", "c", "d"):
        scenario.trained(rep)
    monkeypatch.setattr(adoption, "_ONLY_CHUNK", 2)

    taken = [p.hr_id for p in adoption.person_inputs(scenario.conn, D, ["d", "a", "c", "a"])]

    assert taken == ["a", "c", "d"]


def test_person_inputs_give_ratings_by_capability_then_visit_date_visit_and_item(
    scenario: Scenario,
) -> None:
    """The state machine takes one visit's ratings of a capability in item order, so the
    order within a capability is part of the contract, whatever order the read takes."""
    scenario.rep("r1")
    late = scenario.visit("r1", day(20), {DISC: LOW})
    second = scenario.visit("r1", day(10), {OBJ: LOW})
    first = scenario.visit("r1", day(10), {DISC: HIGH})
    # two more ratings of OBJ on `second`, items "a" and "z" around its own item
    # ("objection-handling-rating": the same order in any collation)
    scenario.conn.execute(
        schema.ratings.insert(),
        [
            {
                "source": "crm",
                "record_id": second,
                "item": item,
                "capability_id": OBJ,
                "raw": 1.0,
                "scaled": scaled,
            }
            for item, scaled in (("z", 0.1), ("a", 0.9))
        ],
    )
    earliest = scenario.visit("r1", day(5), {OBJ: HIGH})

    (person,) = adoption.person_inputs(scenario.conn, D)

    assert person.ratings == [
        (DISC, day(10), first, HIGH),
        (DISC, day(20), late, LOW),
        (OBJ, day(5), earliest, HIGH),
        (OBJ, day(10), second, 0.9),  # item "a"
        (OBJ, day(10), second, LOW),  # item "objection-handling-rating"
        (OBJ, day(10), second, 0.1),  # item "z"
    ]


# --- what changed since the last computation ------------------------------------------------------


def test_last_computation_is_what_finish_computation_recorded(scenario: Scenario) -> None:
    assert adoption.last_computation(scenario.conn) is None
    records.mark_dirty(scenario.conn, ["r1"])  # as writing their inputs does
    assert adoption.changed_people(scenario.conn, D, D) == ["r1"]

    adoption.finish_computation(scenario.conn, D, "basis-1")
    adoption.finish_computation(scenario.conn, D + timedelta(days=1), "basis-2")

    assert adoption.last_computation(scenario.conn) == (D + timedelta(days=1), "basis-2")
    assert adoption.changed_people(scenario.conn, D, D) == []  # nobody dirty any more


def test_changed_people_are_those_the_passing_of_time_reaches(scenario: Scenario) -> None:
    since = D - timedelta(days=10)
    scenario.completed("trained-in-between", "MOD-OBJ-101", D - timedelta(days=5))
    scenario.completed("trained-before", "MOD-OBJ-101", since)
    scenario.rated("visited-in-between", D, HIGH)
    scenario.career("moves-in-between", Career(EPOCH, "North"), Career(D, "South"))
    scenario.career("moves-later", Career(EPOCH, "North"), Career(D + timedelta(days=1), "South"))
    adoption.finish_computation(scenario.conn, since, "basis")  # nobody dirty from here
    write(
        scenario,
        [
            state_row("window-closes", window_end=D - timedelta(days=1)),
            state_row("window-closed", window_end=since),
        ],
    )

    assert sorted(adoption.changed_people(scenario.conn, since, D)) == [
        "moves-in-between",
        "trained-in-between",
        "visited-in-between",
        "window-closes",
    ]
    assert adoption.changed_people(scenario.conn, since, since) == []  # no time passed


# --- writing the states -------------------------------------------------------------------------


def test_upsert_counts_a_change_in_volatile_fields_alone_as_none(scenario: Scenario) -> None:
    first = write(scenario, [state_row("r1"), state_row("r2")])
    again = write(
        scenario,
        [state_row("r1", as_of=D + timedelta(days=1)), state_row("r2", state="developing")],
    )

    assert (first.inserted, first.updated) == (2, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 1)
    assert live(scenario) == {f"r1/{OBJ}": "untrained", f"r2/{OBJ}": "developing"}
    assert adoption.live_states(scenario.conn) == 2


def test_tombstoned_rows_are_no_longer_live(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adoption, "_IN_CHUNK", 2)
    write(scenario, [state_row(f"r{i}") for i in range(5)])

    assert adoption.tombstone_states(scenario.conn, [f"r{i}/{OBJ}" for i in (0, 1, 2, 9)]) == 3
    assert adoption.tombstone_states(scenario.conn, [f"r0/{OBJ}"]) == 0  # already gone
    assert sorted(live(scenario)) == [f"r3/{OBJ}", f"r4/{OBJ}"]
    assert adoption.stale_among(scenario.conn, ["r3", "r4", "r0"], {f"r4/{OBJ}"}) == [f"r3/{OBJ}"]


def test_stale_states_are_live_rows_neither_trained_nor_rated_any_more(
    scenario: Scenario,
) -> None:
    scenario.trained("trained")
    scenario.rated("rated", day(10), HIGH)
    scenario.rated("rated-later", D + timedelta(days=1), HIGH)  # after D: not yet rated
    scenario.completed("failed", "MOD-OBJ-101", day(0), status="failed")
    scenario.rated("unmapped", day(10), HIGH, capability="retired-capability")
    rows = [
        state_row(hr_id) for hr_id in ("trained", "rated", "rated-later", "failed", "nobody")
    ] + [state_row("trained", DISC), state_row("unmapped", "retired-capability")]
    write(scenario, rows)
    modules = {OBJ: ["MOD-OBJ-101", "MOD-OBJ-201"], DISC: ["MOD-DISC-101"]}

    assert sorted(adoption.stale_states(scenario.conn, modules, D)) == [
        f"failed/{OBJ}",
        f"nobody/{OBJ}",
        f"rated-later/{OBJ}",
        f"trained/{DISC}",
        "unmapped/retired-capability",
    ]


def test_scratch_rows_belong_to_one_computation(scenario: Scenario) -> None:
    rows = [
        {k: v for k, v in state_row(r).items() if k not in ("record_id", "as_of")} for r in "ab"
    ]
    adoption.insert_scratch(scenario.conn, "one", rows)
    adoption.insert_scratch(scenario.conn, "two", rows[:1])
    adoption.delete_scratch(scenario.conn, "one")

    t = schema.adoption_scratch
    left = scenario.conn.execute(select(t.c.computation, func.count()).group_by(t.c.computation))
    assert left.all() == [("two", 1)]


def test_the_inputs_dates_are_dates(scenario: Scenario) -> None:
    scenario.completed("r1", "MOD-OBJ-101", date(2024, 2, 29))
    (person,) = adoption.person_inputs(scenario.conn, D)
    assert person.completions == [("MOD-OBJ-101", date(2024, 2, 29))]
