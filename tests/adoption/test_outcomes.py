"""Each rep x capability's outcome and the cohort counts per group, over a real SQLite store
(DESIGN.md, "Adoption (the loop)").

Each test builds a small scenario of HR rows, LMS completions and coaching ratings, computes
adoption_states as a run does (adoption.compute.update_states), then reads the rows
(outcomes) or the cohort counts per group (adoption.metrics.adoption_metrics). Unless a test says otherwise the as-of date D is
2024-06-30 and training happens on T = D - 120 days, so the default 90-day window
(T, T + 90] closed 30 days before D.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from adoptloop.adoption.metrics import ALL, MetricsRow
from adoptloop.adoption.states import State
from tests.adoption.scenario import (
    DISC,
    EPOCH,
    HIGH,
    LOW,
    OBJ,
    D,
    Post,
    Scenario,
    day,
)


def row(rows: list[MetricsRow], group: str, capability: str = OBJ) -> MetricsRow:
    matches = [r for r in rows if (r.group, r.capability) == (group, capability)]
    assert len(matches) == 1, f"expected one row for {group}/{capability}, got {rows}"
    return matches[0]


def counts(r: MetricsRow) -> tuple[int, int, int, int]:
    """(trained, cohort, observed, adopted)."""
    return (r.trained, r.cohort, r.observed, r.adopted)


# --- censoring and the window ---------------------------------------------------------------


def test_rep_whose_window_has_not_closed_is_trained_but_counts_nowhere_else(
    scenario: Scenario,
) -> None:
    scenario.trained("closed", D - timedelta(days=90))  # closes D - 90 + 90 = D: judged
    scenario.trained("open", D - timedelta(days=89))  # closes D + 1: still inside
    scenario.rated("closed", D - timedelta(days=10), HIGH)
    scenario.rated("open", D - timedelta(days=10), HIGH)

    north = row(scenario.table(), "North")
    assert counts(north) == (2, 1, 1, 1)  # both trained; only "closed" in the cohort

    outcomes = scenario.outcomes()
    still_open = outcomes[("open", OBJ)]
    assert (still_open.in_cohort, still_open.observed, still_open.proficient) == (
        False,
        False,
        False,
    )
    assert State(still_open.state) is State.ADOPTED  # the state machine itself is not censored


def test_only_ratings_inside_the_window_after_the_training_day_count(scenario: Scenario) -> None:
    for rep in ("on-training-day", "after-window", "last-day", "first-day-low"):
        scenario.trained(rep)
    scenario.rated("on-training-day", day(0), HIGH)  # the training day is excluded
    scenario.rated("after-window", day(91), HIGH)  # T + 91 > T + 90, though before D
    scenario.rated("last-day", day(90), HIGH)  # T + 90 is the window's last day: included
    scenario.rated("first-day-low", day(1), LOW)  # observed, below threshold

    # 4 trained, 4 in cohort; observed: last-day, first-day-low = 2; adopted: last-day = 1
    assert counts(row(scenario.table(), "North")) == (4, 4, 2, 1)


def test_failed_completion_never_starts_the_clock(scenario: Scenario) -> None:
    scenario.rep("retaker")
    scenario.completed("retaker", "MOD-OBJ-101", day(-100), status="failed")
    scenario.completed("retaker", "MOD-OBJ-101", day(100), status="passed")  # D - 20
    scenario.rated("retaker", day(-50), HIGH)  # inside the failed attempt's "window"
    scenario.rep("only-failed")
    scenario.completed("only-failed", "MOD-OBJ-101", day(0), status="failed")
    scenario.rated("only-failed", day(10), HIGH)

    outcomes = scenario.outcomes()
    assert outcomes[("retaker", OBJ)].trained_at == day(100)  # the pass, not the fail
    assert outcomes[("only-failed", OBJ)].trained_at is None  # rated but never trained
    # retaker trained on T + 100 = D - 20: window open, so trained 1, cohort 0
    assert counts(row(scenario.table(), "North")) == (1, 0, 0, 0)


def test_deleted_completion_never_starts_the_clock(scenario: Scenario) -> None:
    scenario.rep("gone")
    scenario.completed("gone", "MOD-OBJ-101", day(0), deleted=True)
    # "gone" is an eligible rep, so North has (suppressed) rows, but nobody is trained
    assert [(r.group, r.trained) for r in scenario.table()] == [
        ("North", 0),
        (ALL, 0),
        ("North", 0),
        (ALL, 0),
    ]


@pytest.mark.parametrize(
    ("first", "second"), [("MOD-OBJ-101", "MOD-OBJ-201"), ("MOD-OBJ-201", "MOD-OBJ-101")]
)
def test_earliest_of_two_mapped_modules_starts_the_clock(
    scenario: Scenario, first: str, second: str
) -> None:
    scenario.rep("two-modules")
    scenario.completed("two-modules", second, day(40))
    scenario.completed("two-modules", first, day(0), status="passed")
    scenario.completed("two-modules", "MOD-UNMAPPED", day(-60))  # maps to nothing
    scenario.rated("two-modules", day(20), HIGH)  # inside (T, T + 90]; before the 2nd module

    assert scenario.outcomes()[("two-modules", OBJ)].trained_at == day(0)
    assert counts(row(scenario.table(), "North")) == (1, 1, 1, 1)


def test_completion_after_as_of_does_not_train(scenario: Scenario) -> None:
    scenario.rep("future")
    scenario.completed("future", "MOD-OBJ-101", D + timedelta(days=1))
    scenario.rep("later-retake")
    scenario.completed("later-retake", "MOD-OBJ-201", D + timedelta(days=1))
    scenario.completed("later-retake", "MOD-OBJ-101", day(0))

    outcomes = scenario.outcomes()
    assert ("future", OBJ) not in outcomes
    assert outcomes[("later-retake", OBJ)].trained_at == day(0)
    assert counts(row(scenario.table(), "North")) == (1, 1, 0, 0)


def test_only_counted_observations_count(scenario: Scenario) -> None:
    for rep in ("draft-only", "draft-high-counted-low", "deleted-visit"):
        scenario.trained(rep)
    scenario.rated("draft-only", day(10), HIGH, counted=False)
    scenario.rated("draft-high-counted-low", day(10), HIGH, counted=False)
    scenario.rated("draft-high-counted-low", day(20), LOW)
    scenario.rated("deleted-visit", day(10), HIGH, deleted=True)

    # 3 in cohort; observed only through the counted low rating = 1; adopted 0
    assert counts(row(scenario.table(), "North")) == (3, 3, 1, 0)


def test_capability_window_days_override_the_default(scenario: Scenario) -> None:
    scenario.rep("disc-closed")
    scenario.completed("disc-closed", "MOD-DISC-101", D - timedelta(days=40))
    scenario.rated("disc-closed", D - timedelta(days=10), 0.6, capability=DISC)  # day 30: in
    scenario.rep("disc-late-rating")
    scenario.completed("disc-late-rating", "MOD-DISC-101", D - timedelta(days=40))
    scenario.rated("disc-late-rating", D - timedelta(days=9), 0.6, capability=DISC)  # day 31
    scenario.rep("disc-open")
    scenario.completed("disc-open", "MOD-DISC-101", D - timedelta(days=29))  # closes D + 1
    scenario.rep("obj-same-dates")
    scenario.completed("obj-same-dates", "MOD-OBJ-101", D - timedelta(days=40))  # 90-day window

    rows = scenario.table()
    # discovery, W = 30: the two D-40 reps close on D-10 (in cohort), D-29 closes D+1 (not)
    assert counts(row(rows, "North", DISC)) == (3, 2, 1, 1)
    # objection handling, W = 90: D - 40 + 90 = D + 50, still open
    assert counts(row(rows, "North", OBJ)) == (1, 0, 0, 0)


# --- groups ------------------------------------------------------------------------------


def test_rep_counts_in_the_region_they_were_in_when_the_window_closed(
    scenario: Scenario,
) -> None:
    # close = T + 90 = D - 30 for reps trained on T
    scenario.career("moved-before-close", Post(EPOCH, "North"), Post(day(60), "South"))
    scenario.career("moved-on-close", Post(EPOCH, "North"), Post(day(90), "South"))
    scenario.career("moved-after-close", Post(EPOCH, "North"), Post(day(91), "South"))
    for rep in ("moved-before-close", "moved-on-close", "moved-after-close"):
        scenario.completed(rep, "MOD-OBJ-101", day(0))
    # rated while still in North: the outcome follows the rep to South anyway
    scenario.rated("moved-before-close", day(10), HIGH)
    scenario.rated("moved-after-close", day(10), LOW)
    # windows still open: attributed on D itself
    scenario.career("open-moved", Post(EPOCH, "North"), Post(D - timedelta(days=5), "South"))
    scenario.career("open-moves-later", Post(EPOCH, "North"), Post(D + timedelta(days=1), "South"))
    for rep in ("open-moved", "open-moves-later"):
        scenario.completed(rep, "MOD-OBJ-101", D - timedelta(days=30))

    rows = scenario.table()
    # South: moved-before-close (adopted), moved-on-close, open-moved (trained only)
    assert counts(row(rows, "South")) == (3, 2, 1, 1)
    # North: moved-after-close (observed, low), open-moves-later (trained only)
    assert counts(row(rows, "North")) == (2, 1, 1, 0)


def test_all_row_sums_the_groups_and_comes_last(scenario: Scenario) -> None:
    scenario.trained("n1", region="North")
    scenario.trained("n2", region="North")
    scenario.trained("s1", region="South")
    scenario.trained("w1", region="West", on=D - timedelta(days=10))  # window open
    scenario.rated("n1", day(5), HIGH)
    scenario.rated("n2", day(5), LOW)
    scenario.rated("s1", day(5), HIGH)

    rows = [r for r in scenario.table() if r.capability == OBJ]
    assert [r.group for r in rows] == ["North", "South", "West", ALL]
    assert counts(row(rows, "North")) == (2, 2, 2, 1)
    assert counts(row(rows, "South")) == (1, 1, 1, 1)
    assert counts(row(rows, "West")) == (1, 0, 0, 0)
    # (2+1+1, 2+1+0, 2+1+0, 1+1+0)
    assert counts(row(rows, ALL)) == (4, 3, 3, 2)
    # states over every trained rep: n1, s1 adopted; n2 developing; w1 trained-unobserved
    trained = [o for o in scenario.outcomes().values() if o.trained_at is not None]
    assert dict(Counter(o.state for o in trained if o.capability_id == OBJ)) == {
        "adopted": 2,
        "developing": 1,
        "trained-unobserved": 1,
    }


def test_grouping_by_manager_uses_the_manager_at_window_close(scenario: Scenario) -> None:
    scenario.career("r1", Post(EPOCH, "North", "M-A"), Post(day(30), "North", "M-B"))
    scenario.rep("r2", "North", "M-A")
    for rep in ("r1", "r2"):
        scenario.completed(rep, "MOD-OBJ-101", day(0))

    rows = [r for r in scenario.table(by="manager") if r.capability == OBJ]
    assert [(r.group, r.trained) for r in rows] == [("M-A", 1), ("M-B", 1), (ALL, 2)]


def test_grouping_by_capability_gives_only_the_all_rows(scenario: Scenario) -> None:
    scenario.trained("n1", region="North")
    scenario.trained("s1", region="South")
    scenario.rep("d1")
    scenario.completed("d1", "MOD-DISC-101", day(0))

    rows = scenario.table(by="capability")
    # capability order follows the map: objection-handling, then discovery
    assert [(r.group, r.capability, r.trained) for r in rows] == [(ALL, OBJ, 2), (ALL, DISC, 1)]


def test_rated_but_untrained_reps_are_outcomes_but_not_in_the_table(scenario: Scenario) -> None:
    scenario.rep("never-trained")
    scenario.rated("never-trained", day(10), HIGH)

    outcome = scenario.outcomes()[("never-trained", OBJ)]
    assert outcome.trained_at is None
    assert State(outcome.state) is State.UNTRAINED
    assert [r.trained for r in scenario.table()] == [0, 0, 0, 0]  # North and (all), 2 caps


def test_ratings_on_a_capability_no_longer_in_the_map_are_ignored(scenario: Scenario) -> None:
    scenario.trained("r1")
    scenario.rated("r1", day(10), HIGH, capability="retired-capability")
    scenario.rated("r1", day(10), HIGH)

    assert set(scenario.outcomes()) == {("r1", OBJ)}
    assert counts(row(scenario.table(), "North")) == (1, 1, 1, 1)


# --- small-number rules in record() ---------------------------------------------------------


def record(trained: int, cohort: int, observed: int, adopted: int) -> dict[str, object]:
    return MetricsRow("North", OBJ, trained, cohort, observed, adopted).record()


def test_cohort_under_five_is_suppressed() -> None:
    got = record(trained=12, cohort=4, observed=3, adopted=2)
    assert got["suppressed"] is True
    assert got["tier"] == "suppressed"
    for key in ("trained", "cohort", "observed", "adopted"):
        assert got[key] is None, key
    for key in (
        "adoption_observed",
        "adoption_observed_ci_low",
        "adoption_observed_ci_high",
        "adoption_cohort",
        "observation_coverage",
    ):
        assert got[key] is None, key
    assert got["directional"] is False


@pytest.mark.parametrize("cohort", [5, 9])
def test_cohort_of_five_to_nine_shows_counts_only(cohort: int) -> None:
    got = record(trained=cohort + 2, cohort=cohort, observed=4, adopted=3)
    assert (got["trained"], got["cohort"], got["observed"], got["adopted"]) == (
        cohort + 2,
        cohort,
        4,
        3,
    )
    assert got["tier"] == "counts-only"
    assert (got["suppressed"], got["directional"]) == (False, False)
    for key in (
        "adoption_observed",
        "adoption_observed_ci_low",
        "adoption_observed_ci_high",
        "adoption_cohort",
        "observation_coverage",
    ):
        assert got[key] is None, key


def test_cohort_of_ten_shows_percentages_with_an_interval_marked_directional() -> None:
    got = record(trained=12, cohort=10, observed=8, adopted=6)
    assert got["adoption_observed"] == 0.75  # 6 / 8
    assert got["adoption_cohort"] == 0.6  # 6 / 10
    assert got["observation_coverage"] == 0.8  # 8 / 10
    # Wilson 6/8: p = .75, denominator 1 + 3.841459/8 = 1.480182,
    # centre (.75 + .240091) / 1.480182 = .668896,
    # half 1.959964 * sqrt(.0234375 + .0150057) / 1.480182 = .259621 -> (.409275, .928517)
    assert (got["adoption_observed_ci_low"], got["adoption_observed_ci_high"]) == (0.4093, 0.9285)
    assert got["tier"] == "directional"
    assert (got["suppressed"], got["directional"]) == (False, True)


def test_cohort_of_twenty_nine_is_still_directional() -> None:
    got = record(trained=29, cohort=29, observed=20, adopted=10)
    assert got["adoption_observed"] == 0.5  # 10 / 20
    assert got["adoption_cohort"] == 0.3448  # 10 / 29 = 0.344827
    assert got["observation_coverage"] == 0.6897  # 20 / 29 = 0.689655
    assert got["directional"] is True


def test_cohort_of_thirty_is_comparable() -> None:
    got = record(trained=31, cohort=30, observed=21, adopted=7)
    assert got["adoption_observed"] == 0.3333  # 7 / 21 = 0.33333
    assert got["adoption_cohort"] == 0.2333  # 7 / 30 = 0.23333
    assert got["observation_coverage"] == 0.7  # 21 / 30
    # Wilson 7/21: p = 1/3, denominator 1.182927, centre (.333333 + .091463) / 1.182927 = .359107,
    # half 1.959964 * sqrt(.010582 + .002178) / 1.182927 = .187159 -> (.171948, .546266)
    assert (got["adoption_observed_ci_low"], got["adoption_observed_ci_high"]) == (0.1719, 0.5463)
    assert got["tier"] == "comparable"
    assert (got["suppressed"], got["directional"]) == (False, False)


def test_nobody_observed_gives_zero_coverage_and_no_observed_rate() -> None:
    got = record(trained=10, cohort=10, observed=0, adopted=0)
    assert got["observation_coverage"] == 0.0  # 0 / 10
    assert got["adoption_cohort"] == 0.0  # 0 / 10
    assert got["adoption_observed"] is None  # 0 / 0
    assert got["adoption_observed_ci_low"] is None
    assert got["adoption_observed_ci_high"] is None


def test_tier_is_decided_by_the_cohort_not_by_everyone_trained(scenario: Scenario) -> None:
    # 12 reps trained on T (cohort) of whom 8 observed and 6 adopted, plus 3 still in window
    for i in range(12):
        scenario.trained(f"r{i:02d}")
    for i in range(8):
        scenario.rated(f"r{i:02d}", day(10 + i), HIGH if i < 6 else LOW)
    for i in range(3):
        scenario.trained(f"open{i}", D - timedelta(days=10))

    got = row(scenario.table(), "North").record()
    assert (got["trained"], got["cohort"], got["observed"], got["adopted"]) == (15, 12, 8, 6)
    assert got["tier"] == "directional"  # cohort 12, not trained 15
    assert got["adoption_observed"] == 0.75  # 6 / 8
    assert got["adoption_cohort"] == 0.5  # 6 / 12
    assert got["observation_coverage"] == 0.6667  # 8 / 12 = 0.66667


def test_adoption_metrics_leave_the_callers_connection_options_alone(scenario: Scenario) -> None:
    scenario.trained("r1")
    scenario.rated("r1", day(10), HIGH)
    before = dict(scenario.conn.get_execution_options())
    scenario.table()
    assert dict(scenario.conn.get_execution_options()) == before
