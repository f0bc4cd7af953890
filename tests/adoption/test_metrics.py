"""Adoption metrics by group (adoption.metrics) over a scratch computation on a real store.

The scenarios follow tests/adoption/scenario.py: D = 2024-06-30, training on T = D - 120 days,
so a default 90-day window (T, T + 90] closed 30 days before D. Every expectation is worked
out by hand in the comment beside it (DESIGN.md, "Adoption (the loop)").
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from adoptloop.adoption.compute import scratch, update_states
from adoptloop.adoption.kaplan_meier import kaplan_meier
from adoptloop.adoption.metrics import (
    ALL,
    By,
    MetricsRow,
    _ExactSum,
    adoption_metrics,
    coaching_coverage,
    follow_through,
    median_of_counts,
    median_or_none,
    team_labels,
)
from adoptloop.store import schema
from adoptloop.store.metrics import RowSource
from tests.adoption.scenario import (
    DISC,
    EPOCH,
    HIGH,
    LOW,
    OBJ,
    D,
    Post,
    Scenario,
    T,
    before,
    day,
)


def metrics(s: Scenario, by: By = "region", as_of: date = D) -> list[MetricsRow]:
    """Commit the scenario, compute into scratch rows and aggregate them."""
    s.conn.commit()
    engine = s.conn.engine
    with scratch(engine, s.capabilities, as_of) as computation, engine.connect() as conn:
        return adoption_metrics(conn, RowSource.scratch(computation), s.capabilities, as_of, by)


def row(rows: list[MetricsRow], group: str, capability: str = OBJ) -> MetricsRow:
    matches = [r for r in rows if (r.group, r.capability) == (group, capability)]
    assert len(matches) == 1, f"expected one row for {group}/{capability}, got {rows}"
    return matches[0]


def counts(r: MetricsRow) -> tuple[int, int, int, int, int, int]:
    """(trained, cohort, observed, adopted, sustained, regressed)."""
    return (r.trained, r.cohort, r.observed, r.adopted, r.sustained, r.regressed)


def two_regions(s: Scenario) -> None:
    """North: one adopted, one developing, one unobserved, one still inside the window;
    South: one sustained, one regressed."""
    for rep in ("n1", "n2", "n3"):
        s.trained(rep, region="North")
    s.rated("n1", day(10), HIGH)  # adopted on day 10
    s.rated("n2", day(20), LOW)  # observed, developing
    s.trained("n4", before(10), region="North")  # window (D-10, D+80]: censored
    s.rated("n4", before(5), HIGH)  # adopted 5 days after training, but not judged yet
    for rep in ("s1", "s2"):
        s.trained(rep, region="South")
        s.rated(rep, day(5), HIGH)  # both adopted on day 5
    s.rated("s1", day(40), HIGH)  # 35 days after adopting: sustained
    s.rated("s2", day(50), LOW)
    s.rated("s2", day(60), LOW)  # two lows in a row after adopting: regressed


# --- cohort counts --------------------------------------------------------------------------


def test_counts_per_region_and_the_all_row(scenario: Scenario) -> None:
    two_regions(scenario)
    rows = metrics(scenario)

    # every group with a trained (or eligible) rep x every capability, then "(all)"
    assert [(r.group, r.capability) for r in rows] == [
        ("North", OBJ),
        ("South", OBJ),
        (ALL, OBJ),
        ("North", DISC),
        ("South", DISC),
        (ALL, DISC),
    ]
    # North: trained n1..n4 = 4; cohort n1..n3 = 3 (n4's window is open); observed n1, n2 = 2;
    # adopted n1 = 1; nobody sustained or regressed
    assert counts(row(rows, "North")) == (4, 3, 2, 1, 0, 0)
    # South: s1, s2 trained, in cohort, observed and adopted; s1 sustained, s2 regressed
    assert counts(row(rows, "South")) == (2, 2, 2, 2, 1, 1)
    # (all): (4+2, 3+2, 2+2, 1+2, 0+1, 0+1)
    assert counts(row(rows, ALL)) == (6, 5, 4, 3, 1, 1)


def test_rep_inside_the_window_counts_only_in_trained(scenario: Scenario) -> None:
    scenario.trained("closes-on-d", before(90))  # window (D-90, D]: closed on D, judged
    scenario.trained("closes-after-d", before(89))  # window (D-89, D+1]: still open
    scenario.rated("closes-on-d", before(1), HIGH)
    scenario.rated("closes-after-d", before(1), HIGH)

    north = row(metrics(scenario), "North")
    # trained 2; only "closes-on-d" is in the cohort, observed and adopted
    assert counts(north) == (2, 1, 1, 1, 0, 0)


def test_sustained_and_regressed_cover_every_trained_rep_not_only_the_cohort(
    scenario: Scenario,
) -> None:
    scenario.trained("quick", before(80))  # window closes D + 10: not in the cohort
    scenario.rated("quick", before(75), HIGH)  # adopted
    scenario.rated("quick", before(40), HIGH)  # 35 days later: sustained

    # trained 1, cohort 0 (so nothing observed or adopted in a closed window), sustained 1
    assert counts(row(metrics(scenario), "North")) == (1, 0, 0, 0, 1, 0)


def test_a_suppressed_group_still_counts_in_the_all_row(scenario: Scenario) -> None:
    two_regions(scenario)
    rows = metrics(scenario)

    north = row(rows, "North").record()  # cohort 3 < 5: suppressed
    assert north["suppressed"] is True
    assert [north[k] for k in ("trained", "cohort", "observed", "adopted")] == [None] * 4
    everyone = row(rows, ALL).record()  # cohort 5: counts only, North's reps included
    assert everyone["tier"] == "counts-only"
    assert [everyone[k] for k in ("trained", "cohort", "observed", "adopted")] == [6, 5, 4, 3]
    assert everyone["adoption_observed"] is None


# --- groups ---------------------------------------------------------------------------------


def _manager_change(s: Scenario) -> None:
    """Two teams in North; reps who change team before, after and inside their window."""
    s.manager("M-A", "North", "N-D01")
    s.manager("M-B", "North", "N-D02")
    # moves to M-B on day 45, inside the window (T, T+90]: counts in M-B's team
    s.career("r1", Post(EPOCH, "North", "M-A"), Post(day(45), "North", "M-B"))
    # moves on day 100, after the window closed on day 90: counts in M-A's team
    s.career("r2", Post(EPOCH, "North", "M-A"), Post(day(100), "North", "M-B"))
    s.rep("r3", "North", "M-A")
    # trained D-30, window still open: attributed on D itself, when the rep is in M-B's team
    s.career("r4", Post(EPOCH, "North", "M-A"), Post(before(5), "North", "M-B"))
    for rep in ("r1", "r2", "r3"):
        s.completed(rep, "MOD-OBJ-101", T)
    s.completed("r4", "MOD-OBJ-101", before(30))
    s.rated("r1", day(10), HIGH, observer="M-A")  # rated by the old manager; belongs to M-B
    s.rated("r2", day(10), LOW, observer="M-A")


def test_by_team_counts_the_rep_in_the_team_at_window_close_named_by_territory(
    scenario: Scenario,
) -> None:
    _manager_change(scenario)
    rows = metrics(scenario, by="team")

    assert [r.group for r in rows if r.capability == OBJ] == ["team N-D01", "team N-D02", ALL]
    # M-A (territory N-D01): r2, r3 trained and in the cohort; r2 observed, not adopted
    assert counts(row(rows, "team N-D01")) == (2, 2, 1, 0, 0, 0)
    # M-B (territory N-D02): r1 (cohort, observed, adopted) and r4 (trained only)
    assert counts(row(rows, "team N-D02")) == (2, 1, 1, 1, 0, 0)
    assert counts(row(rows, ALL)) == (4, 3, 2, 1, 0, 0)


def test_by_team_never_names_a_team_by_its_managers_hr_id(scenario: Scenario) -> None:
    scenario.manager("M-A", "North", "N-D01")
    scenario.manager("M-Z", "North", None)  # no territory on record
    scenario.trained("r1", manager="M-A")
    scenario.trained("r2", manager="M-Z")
    scenario.trained("r3", manager="M-GONE")  # the manager has no HR row (erased)
    scenario.trained("r4", manager=None)

    rows = metrics(scenario, by="team")
    # the unnamed ones are numbered in HR-id order: M-GONE #1, M-Z #2
    assert [(r.group, r.trained) for r in rows if r.capability == OBJ] == [
        ("(none)", 1),
        ("team N-D01", 1),
        ("team without territory #1", 1),
        ("team without territory #2", 1),
        (ALL, 4),
    ]


def test_team_labels_are_those_of_the_managers_asked_for_only(scenario: Scenario) -> None:
    """Issue 17 (the adoption stage's memory flat to 50k): the labels of the teams asked for,
    not a label per person with a territory on record (56,300 at 50,000 reps, for the 6,250
    managers' teams the report lists); the unnamed still numbered in HR-id order."""
    scenario.manager("M-A", "North", "N-D01")
    scenario.manager("M-B", "North", "N-D02")
    scenario.manager("M-Z", "North", None)
    scenario.trained("r1", manager="M-A")
    scenario.conn.commit()

    labels = team_labels(scenario.conn, D, ["M-Z", "M-A", "M-GONE"])
    assert labels == {
        "M-A": "team N-D01",
        "M-GONE": "team without territory #1",
        "M-Z": "team without territory #2",
    }
    assert team_labels(scenario.conn, D) == {}


def test_by_manager_groups_the_same_reps_by_the_manager_at_window_close(
    scenario: Scenario,
) -> None:
    _manager_change(scenario)
    rows = metrics(scenario, by="manager")

    # same attribution as by team (r2, r3 | r1, r4), keyed by the manager's HR id
    assert [(r.group, r.trained, r.cohort, r.adopted) for r in rows if r.capability == OBJ] == [
        ("M-A", 2, 2, 0),
        ("M-B", 2, 1, 1),
        (ALL, 4, 3, 1),
    ]


def test_by_module_groups_by_the_module_that_started_the_clock(scenario: Scenario) -> None:
    scenario.rep("r1")
    scenario.completed("r1", "MOD-OBJ-101", T)
    scenario.rep("r2")
    scenario.completed("r2", "MOD-OBJ-201", T)  # the clock starts here ...
    scenario.completed("r2", "MOD-OBJ-101", day(5))  # ... not at the later module
    scenario.rep("r3")  # both on the same day: the lower module id, whatever the row order
    scenario.completed("r3", "MOD-OBJ-201", T)
    scenario.completed("r3", "MOD-OBJ-101", T)
    scenario.rated("r2", day(10), HIGH)
    scenario.rep("d1")
    scenario.completed("d1", "MOD-DISC-101", T)

    rows = metrics(scenario, by="module")
    # objection handling: MOD-OBJ-101 started r1 and r3, MOD-OBJ-201 started r2 (adopted)
    # every module group x every capability (a module that teaches nothing of c: a
    # suppressed row with nobody)
    assert [(r.group, r.capability, r.trained, r.adopted) for r in rows] == [
        ("MOD-DISC-101", OBJ, 0, 0),
        ("MOD-OBJ-101", OBJ, 2, 0),
        ("MOD-OBJ-201", OBJ, 1, 1),
        (ALL, OBJ, 3, 1),
        ("MOD-DISC-101", DISC, 1, 0),
        ("MOD-OBJ-101", DISC, 0, 0),
        ("MOD-OBJ-201", DISC, 0, 0),
        (ALL, DISC, 1, 0),
    ]
    # coaching is not split by module: the four eligible reps count on the "(all)" rows only
    assert [r.eligible for r in rows] == [0, 0, 0, 4, 0, 0, 0, 4]


def test_by_capability_gives_one_all_row_per_capability(scenario: Scenario) -> None:
    two_regions(scenario)
    scenario.rep("d1", "West")
    scenario.completed("d1", "MOD-DISC-101", before(40))  # 30-day window closed on D-10
    scenario.rated("d1", before(20), 0.5, capability=DISC)  # threshold 0.5: proficient

    rows = metrics(scenario, by="capability")
    assert [(r.group, r.capability) for r in rows] == [(ALL, OBJ), (ALL, DISC)]
    assert counts(row(rows, ALL, OBJ)) == (6, 5, 4, 3, 1, 1)  # as the regions' sum
    assert counts(row(rows, ALL, DISC)) == (1, 1, 1, 1, 0, 0)
    # one event at day 20 (D-20 - (D-40)) out of one rep: median = p75 = 20
    assert (row(rows, ALL, DISC).median_days, row(rows, ALL, DISC).p75_days) == (20, 20)


# --- time to proficiency ----------------------------------------------------------------------


def test_median_and_p75_days_are_kaplan_meier_over_all_trained_reps(scenario: Scenario) -> None:
    two_regions(scenario)
    rows = metrics(scenario)

    # North: n4 proficient at day 5, n1 at day 10, n2 and n3 censored at D - T = 120 days.
    # day 5: 4 at risk, S = 3/4 (25%); day 10: 3 at risk, S = 3/4 * 2/3 = 1/2 (50%): median 10;
    # the two censored reps never let the share reach 75%: p75 None
    north = row(rows, "North")
    assert (north.median_days, north.p75_days) == (10, None)
    # South: s1 and s2 both proficient at day 5: 100% on day 5
    south = row(rows, "South")
    assert (south.median_days, south.p75_days) == (5, 5)
    # (all): day 5: 6 at risk, 3 events, S = 1/2 (50%): median 5; day 10: 3 at risk, 1 event,
    # S = 1/2 * 2/3 = 1/3 (66.7%); then only censored reps: p75 None
    everyone = row(rows, ALL)
    assert (everyone.median_days, everyone.p75_days) == (5, None)
    # cohort under 10: the medians are not shown in the record
    assert everyone.record()["median_days_to_proficiency"] is None


# --- coaching coverage and follow-through ---------------------------------------------------


def _coaching(s: Scenario) -> None:
    """Eligibility over (D - 90, D] = D-89 .. D, 90 days; eligible from 45 employed days."""
    s.rep("e1")  # employed throughout
    s.visit("e1", before(10))  # coached
    s.rep("e2", hired=before(60))  # D-60 .. D: 61 days >= 45: eligible, not coached
    s.rep("e3", hired=before(30))  # D-30 .. D: 31 days < 45: not eligible ...
    s.visit("e3", before(5))  # ... even though coached
    s.rep("e4", left=before(10))  # last day D-10: D-89 .. D-10 = 80 days, eligible
    s.visit("e4", before(50))  # coached
    s.rep("e5", left=before(50))  # last day D-50: D-89 .. D-50 = 40 days, not eligible
    s.visit("e5", before(60))
    s.rep("e6")
    s.visit("e6", before(90))  # D - 90 is outside (D - 90, D]: not coached
    s.rep("e7")
    s.visit("e7", before(89))  # first day of the window: coached
    s.rep("e8")
    s.visit("e8", D + timedelta(days=1))  # after D: not coached
    s.rep("e9")
    s.visit("e9", before(3), counted=False)  # a draft: not coached
    s.rep("e10", role="rep")  # an MSL: field staff, mapped to `rep` at pull
    s.visit("e10", D)  # D itself is in the window: coached
    s.rep("e11", hired=before(45))  # D-45 .. D: 46 days: eligible
    s.rep("e12")
    s.visit("e12", before(10), deleted=True)  # deleted at the source: not coached
    s.rep("e13", hired=before(44))  # D-44 .. D: exactly 45 days, the hire day counted: eligible
    s.rep("e14", hired=before(43))  # D-43 .. D: 44 days: not eligible
    s.manager("M-1", "North", "N-D01")  # not a field role
    s.visit("M-1", before(10), observer="RD-1")
    s.rep("s1", "South")
    s.visit("s1", before(20))


def test_coaching_coverage_counts_eligible_field_reps_with_a_visit_in_the_last_90_days(
    scenario: Scenario,
) -> None:
    """Issue 16 point 1 (hire day, coaching eligibility at 45 of 90 days): the hire day and
    the termination day are employed days; e13, hired on D-44, is employed exactly 45 days."""
    _coaching(scenario)
    got = coaching_coverage(scenario.conn, D, "region")
    # North eligible: e1, e2, e4, e6, e7, e8, e9, e10, e11, e12, e13 = 11;
    # coached e1, e4, e7, e10 = 4. South: s1, coached. (all): 12 eligible, 5 coached
    assert got == {"North": (11, 4), "South": (1, 1), ALL: (12, 5)}


def test_coaching_cells_follow_the_rows_cohort_not_the_eligible_count(
    scenario: Scenario,
) -> None:
    """Issue 16 point 1 (row-cohort tier rule): the row's cohort n decides coaching coverage
    too. North has 11 eligible reps but a cohort of 1 (e1): the whole row is blank."""
    _coaching(scenario)
    scenario.completed("e1", "MOD-OBJ-101", T)
    scenario.completed("s1", "MOD-OBJ-101", T)

    rows = metrics(scenario)
    north = row(rows, "North").record()
    assert north["suppressed"] is True
    assert (north["eligible"], north["coaching_coverage"]) == (None, None)
    assert (row(rows, "North").eligible, row(rows, "North").coached) == (11, 4)  # kept inside
    everyone = row(rows, ALL).record()  # cohort 2: suppressed as well
    assert (everyone["eligible"], everyone["coaching_coverage"]) == (None, None)


def test_follow_through_counts_actions_due_in_the_period_done_on_time(
    scenario: Scenario,
) -> None:
    """Issue 16 point 1 (follow-through on time per capability): an action due in (D-90, D]
    and agreed by D is done on time when completed on or before min(due + 7, D)."""
    scenario.rep("f1")
    scenario.action("f1", before(20), before(13))  # 7 days late: done, on time
    scenario.action("f1", before(20), before(12))  # 8 days late: done, late
    scenario.action("f1", before(30), before(40))  # done early: on time
    scenario.action("f1", before(10))  # open: due, not done
    scenario.action("f1", before(10), status="cancelled")  # cancelled: not counted
    scenario.action("f1", before(90), before(90))  # due D - 90: outside (D - 90, D]
    scenario.action("f1", before(89), before(89))  # due on the window's first day: on time
    scenario.action("f1", D + timedelta(days=5))  # due after D: not counted
    scenario.action("f1", before(5), D + timedelta(days=2))  # by due + 7 = D + 2, but after D
    scenario.action("f1", None)  # no due date: never due
    scenario.action("f1", before(15), before(15), capability=DISC)  # on time, on discovery

    # objection handling, due: the 7-late, 8-late, early, open, D-89 and after-D ones = 6;
    # completed by D: 7-late, 8-late, early, D-89 = 4; on time: 7-late, early, D-89 = 3
    assert follow_through(scenario.conn, scenario.capabilities, D, "region") == {
        ("North", OBJ): (6, 4, 3),
        (ALL, OBJ): (6, 4, 3),
        ("North", DISC): (1, 1, 1),
        (ALL, DISC): (1, 1, 1),
    }


@pytest.mark.parametrize(("due", "shown"), [(9, 0.7778), (10, 0.7)])
def test_follow_through_share_is_shown_by_the_rows_cohort(
    scenario: Scenario, due: int, shown: float
) -> None:
    """Issue 16 point 1 (row-cohort tier rule): 10 reps in North's cohort make the row
    directional, so 9 actions due show their share too (7 / 9 = .77778; 7 / 10 = .7)."""
    for i in range(10):
        scenario.trained(f"f{i}")
    for i in range(due):
        scenario.action("f0", before(10), before(12) if i < 7 else None)  # 7 done early

    got = row(metrics(scenario), "North").record()
    assert got["action_follow_through"] == shown


# --- small-number rules in record() ---------------------------------------------------------

RATES = (
    "adoption_observed",
    "adoption_observed_ci_low",
    "adoption_observed_ci_high",
    "adoption_cohort",
    "observation_coverage",
    "median_days_to_proficiency",
    "p75_days_to_proficiency",
)
COUNTS = ("trained", "cohort", "observed", "adopted", "sustained", "regressed")


def metrics_row(cohort: int, observed: int, adopted: int) -> MetricsRow:
    return MetricsRow(
        "North",
        OBJ,
        trained=cohort + 2,
        cohort=cohort,
        observed=observed,
        adopted=adopted,
        sustained=1,
        regressed=1,
        # events on days 12, 12, 30, 30: S = 1/2 after day 12, 0 after day 30
        curve=kaplan_meier([(12, True), (12, True), (30, True), (30, True)]),
    )


def test_cohort_of_four_is_suppressed() -> None:
    got = metrics_row(cohort=4, observed=3, adopted=2).record()
    assert (got["tier"], got["suppressed"], got["directional"]) == ("suppressed", True, False)
    for key in COUNTS + RATES:
        assert got[key] is None, key


def test_cohort_of_seven_shows_counts_only() -> None:
    got = metrics_row(cohort=7, observed=5, adopted=3).record()
    assert (got["tier"], got["suppressed"], got["directional"]) == ("counts-only", False, False)
    assert [got[k] for k in COUNTS] == [9, 7, 5, 3, 1, 1]
    for key in RATES:
        assert got[key] is None, key


def test_cohort_of_twelve_shows_rates_with_an_interval_marked_directional() -> None:
    got = metrics_row(cohort=12, observed=10, adopted=6).record()
    assert (got["tier"], got["suppressed"], got["directional"]) == ("directional", False, True)
    assert got["adoption_observed"] == 0.6  # 6 / 10
    # Wilson 6/10: z^2/n = 3.841459/10 = .384146, denominator 1.384146,
    # centre (.6 + .192073) / 1.384146 = .572245,
    # half 1.959964 * sqrt(.024 + .009604) / 1.384146 = .259572 -> (.312673, .831817)
    assert (got["adoption_observed_ci_low"], got["adoption_observed_ci_high"]) == (0.3127, 0.8318)
    assert got["adoption_cohort"] == 0.5  # 6 / 12
    assert got["observation_coverage"] == 0.8333  # 10 / 12 = .83333
    assert (got["median_days_to_proficiency"], got["p75_days_to_proficiency"]) == (12, 30)


def test_cohort_of_thirty_is_comparable() -> None:
    got = metrics_row(cohort=30, observed=25, adopted=20).record()
    assert (got["tier"], got["suppressed"], got["directional"]) == ("comparable", False, False)
    assert got["adoption_observed"] == 0.8  # 20 / 25
    # Wilson 20/25: z^2/n = .153658, denominator 1.153658, centre (.8 + .076829) / 1.153658
    # = .760043, half 1.959964 * sqrt(.0064 + .001537) / 1.153658 = .151351 -> (.608692, .911394)
    assert (got["adoption_observed_ci_low"], got["adoption_observed_ci_high"]) == (0.6087, 0.9114)
    assert got["adoption_cohort"] == 0.6667  # 20 / 30
    assert got["observation_coverage"] == 0.8333  # 25 / 30


def test_flagged_only_when_the_groups_interval_excludes_the_overall_adoption(
    scenario: Scenario,
) -> None:
    for i in range(12):  # North: 12 / 12 adopted
        scenario.trained(f"n{i:02d}", region="North")
        scenario.rated(f"n{i:02d}", day(10), HIGH)
    for i in range(24):  # South: 12 / 24 adopted
        scenario.trained(f"s{i:02d}", region="South")
        scenario.rated(f"s{i:02d}", day(10), HIGH if i < 12 else LOW)
    for i in range(5):  # West: 0 / 5, counts-only: no interval, so never flagged
        scenario.trained(f"w{i:02d}", region="West")
        scenario.rated(f"w{i:02d}", day(10), LOW)

    rows = metrics(scenario)
    # overall: (12 + 12 + 0) / (12 + 24 + 5) = 24 / 41 = .585
    # North, Wilson 12/12: (.758, 1.0) excludes .585: flagged
    # South, Wilson 12/24: (.314, .686) includes .585: not flagged
    # West, 0/5 would be (0, .434), but a counts-only group shows no interval: not flagged
    assert {r.group: r.record()["flagged"] for r in rows if r.capability == OBJ} == {
        "North": True,
        "South": False,
        "West": False,
        ALL: False,
    }


# --- the persistent rows (update_states) ------------------------------------------------------


def _states(s: Scenario) -> dict[str, tuple[str, bool]]:
    t = schema.adoption_states
    with s.conn.engine.connect() as conn:
        return {r.record_id: (r.state, r.deleted) for r in conn.execute(select(t))}


def test_update_states_rewrites_only_changed_rows_and_tombstones_vanished_ones(
    scenario: Scenario,
) -> None:
    scenario.trained("r1")
    scenario.trained("r2")
    scenario.rep("r3")
    scenario.rated("r3", day(10), HIGH)  # rated, never trained: a row in state "untrained"
    scenario.conn.commit()
    engine, caps = scenario.conn.engine, scenario.capabilities

    assert update_states(engine, caps, D) == {
        "rows": 3,
        "changed": 3,
        "removed": 0,
        "mode": "full",
        "kept_sums": {"metrics": "full", "people": 3},  # rebuilt beside a full computation
    }
    # the next day: r1 and r2 were censored one more day, nothing happened (not a change);
    # nobody's inputs were written and no window closed, so nobody is recomputed
    assert update_states(engine, caps, D + timedelta(days=1)) == {
        "rows": 3,
        "changed": 0,
        "removed": 0,
        "mode": "incremental",
        "people": 0,
    }
    scenario.rated("r1", day(95), HIGH)  # adopted, after the window
    scenario.conn.execute(
        schema.observations.update()
        .values(deleted=True)
        .where(schema.observations.c.observed_hr_id == "r3")
    )
    scenario.conn.commit()
    # back to D (earlier than the last computation): everyone is recomputed
    assert update_states(engine, caps, D) == {
        "rows": 2,
        "changed": 1,
        "removed": 1,
        "mode": "full",
        "kept_sums": {"metrics": "full", "people": 3},
    }
    assert _states(scenario) == {
        f"r1/{OBJ}": ("adopted", False),
        f"r2/{OBJ}": ("trained-unobserved", False),
        f"r3/{OBJ}": ("untrained", True),
    }
    # the tombstoned row no longer counts; the states give what a scratch computation gives
    with engine.connect() as conn:
        stored = adoption_metrics(conn, RowSource.states(), caps, D)
    assert [counts(r) for r in stored] == [counts(r) for r in metrics(scenario)]


def test_scratch_rows_are_removed_after_the_computation(scenario: Scenario) -> None:
    two_regions(scenario)
    metrics(scenario)
    with scenario.conn.engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(schema.adoption_scratch)).scalar()
    assert left == 0


@pytest.mark.parametrize("per_read", [1, 2, 3])
def test_follow_through_reads_its_owners_a_few_at_a_time_with_the_same_counts(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, per_read: int
) -> None:
    """Issue 17 (memory flat as the org grows): the actions' owners are read ACTIONS_PER_READ
    actions at a time; an owner whose actions span two reads, and owners in other groups and
    of other capabilities, count exactly as when every owner is read at once."""
    from adoptloop.adoption import metrics

    scenario.rep("f1")
    scenario.rep("f2", region="South")
    scenario.rep("f3")
    scenario.action("f2", before(20), before(13))
    scenario.action("f1", before(20), before(12))
    scenario.action("f3", before(30), before(40), capability=DISC)
    scenario.action("f1", before(10))
    scenario.action("f2", before(5))
    scenario.action("f1", before(15), before(15), capability=DISC)
    scenario.action("f3", before(8), before(1))
    at_once = follow_through(scenario.conn, scenario.capabilities, D, "region")

    monkeypatch.setattr(metrics, "ACTIONS_PER_READ", per_read)
    assert follow_through(scenario.conn, scenario.capabilities, D, "region") == at_once
    assert at_once == {
        ("North", OBJ): (3, 2, 1),  # f1 8 days late, f1 open, f3 on time
        ("North", DISC): (2, 2, 2),
        ("South", OBJ): (2, 1, 1),
        (ALL, OBJ): (5, 3, 2),
        (ALL, DISC): (2, 2, 2),
    }


def test_follow_through_lets_one_read_of_owners_go_before_the_next(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the adoption stage's memory flat as the org grows): a read of owners is let
    go before the next is read (two held at once: the stage's peak grew from 10k to 50k)."""
    from adoptloop.adoption import aggregates, metrics

    for rep in ("f1", "f2", "f3"):
        scenario.rep(rep)
        scenario.action(rep, before(20), before(13))
    monkeypatch.setattr(metrics, "ACTIONS_PER_READ", 1)
    load_people = aggregates.load_people
    reads: list[weakref.ref[dict[str, Any]]] = []

    class Owners(dict[str, Any]):
        pass

    def tracked(*args: Any) -> dict[str, Any]:
        assert [read() for read in reads] == [None] * len(reads)  # the reads before: gone
        owners = Owners(load_people(*args))
        reads.append(weakref.ref(owners))
        return owners

    monkeypatch.setattr(aggregates, "load_people", tracked)
    assert follow_through(scenario.conn, scenario.capabilities, D, "region")[(ALL, OBJ)] == (
        3,
        3,
        3,
    )
    assert len(reads) == 3


# --- the report's coaching figures summed without a list of every visit (issue 17) ------------


@given(st.lists(st.integers(min_value=-5, max_value=60), max_size=40))
def test_the_median_of_counts_is_the_median_of_the_values_counted(values: list[int]) -> None:
    assert median_of_counts(Counter(values)) == median_or_none(values)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@given(st.lists(st.tuples(finite, st.integers(min_value=1, max_value=9)), max_size=30))
def test_an_exact_sum_is_math_fsum_of_every_term(terms: list[tuple[float, int]]) -> None:
    exact = _ExactSum()
    for value, times in terms:
        exact.add(value, times)
    assert exact.value() == math.fsum(v for value, times in terms for v in [value] * times)
