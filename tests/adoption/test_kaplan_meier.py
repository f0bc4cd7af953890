"""Kaplan-Meier time to proficiency on classic hand-worked examples.

An observation is (days, proficient): proficient=True is an event on that day, False a rep
censored then (not proficient by the as-of date). The curve is the share proficient, 1 - S(t),
stepping only on days with an event; S(t) = prod over event days of (1 - events / at risk).
"""

from __future__ import annotations

from array import array
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from adoptloop.adoption.kaplan_meier import kaplan_meier


def test_without_censoring_each_rep_adds_one_nth() -> None:
    curve = kaplan_meier([(8, True), (2, True), (6, True), (4, True)])
    # 4 reps, one event per day: S = 3/4, 2/4, 1/4, 0 -> shares .25, .5, .75, 1
    assert (curve.days, curve.share, curve.reps) == ((2, 4, 6, 8), (0.25, 0.5, 0.75, 1.0), 4)
    assert curve.quantile(0.5) == 4.0  # the first day the share reaches 50%
    assert curve.quantile(0.75) == 6.0
    assert curve.quantile(1.0) == 8.0


def test_shares_are_rounded_to_six_places() -> None:
    curve = kaplan_meier([(1, True), (2, True), (3, True)])
    # 1/3, 2/3, 1
    assert curve.share == (0.333333, 0.666667, 1.0)


def test_a_rep_censored_before_an_event_leaves_the_risk_set() -> None:
    curve = kaplan_meier([(1, True), (2, False), (3, True), (4, True)])
    # day 1: 4 at risk, 1 event: S = 3/4 (share .25)
    # day 2: one censored, at risk drops to 2 (no step)
    # day 3: 2 at risk, 1 event: S = 3/4 * 1/2 = 3/8 (share .625)
    # day 4: 1 at risk, 1 event: S = 0 (share 1)
    assert curve.days == (1, 3, 4)
    assert curve.share == (0.25, 0.625, 1.0)
    assert curve.reps == 4
    assert curve.quantile(0.5) == 3.0  # .625 >= .5 first on day 3
    assert curve.quantile(0.75) == 4.0


def test_censored_on_an_event_day_are_still_at_risk_that_day() -> None:
    curve = kaplan_meier([(2, True), (2, False), (4, True), (6, False)])
    # day 2: 4 at risk (the censored rep included), 1 event: S = 3/4 (share .25);
    #        (dropping the censored rep first would give 1 - 2/3 = .333)
    # day 4: 2 at risk, 1 event: S = 3/4 * 1/2 = 3/8 (share .625)
    # day 6: censored only, no step
    assert curve.days == (2, 4)
    assert curve.share == (0.25, 0.625)
    assert curve.quantile(0.5) == 4.0
    assert curve.quantile(0.75) is None  # never reaches 75% within what was observed


def test_ties_of_events_step_once() -> None:
    curve = kaplan_meier([(5, True), (5, True), (5, True), (9, False)])
    # day 5: 4 at risk, 3 events: S = 1/4 (share .75)
    assert (curve.days, curve.share) == ((5,), (0.75,))
    assert curve.quantile(0.5) == curve.quantile(0.75) == 5.0


def test_nobody_proficient_gives_no_quantiles() -> None:
    curve = kaplan_meier([(30, False), (45, False), (90, False)])
    assert (curve.days, curve.share, curve.reps) == ((), (), 3)
    assert curve.quantile(0.5) is None
    assert curve.quantile(0.75) is None


def test_empty_input_gives_an_empty_curve() -> None:
    curve = kaplan_meier([])
    assert (curve.days, curve.share, curve.reps) == ((), (), 0)
    assert curve.quantile(0.5) is None


def test_accepts_a_generator() -> None:
    curve = kaplan_meier((d, True) for d in (3, 1))
    assert (curve.days, curve.share, curve.reps) == ((1, 3), (0.5, 1.0), 2)


def test_median_is_the_first_day_s_reaches_one_half_exactly() -> None:
    """Issue 16 point 1 (Kaplan-Meier conventions): median = first day with S(t) <= 1/2,
    p75 = first day with S(t) <= 1/4, decided exactly.

    6 reps: events on days 1, 2, 3, 4, censored on 5 and 6. S(1) = 5/6, S(2) = 5/6 * 4/5 = 2/3,
    S(3) = 2/3 * 3/4 = 1/2 exactly -> the median is day 3 (in floats 2/3 * 3/4 can land a hair
    above or below 1/2). S(4) = 1/2 * 2/3 = 1/3 > 1/4 -> no p75.
    """
    curve = kaplan_meier([(1, True), (2, True), (3, True), (4, True), (5, False), (6, False)])
    assert curve.survival == (Fraction(5, 6), Fraction(2, 3), Fraction(1, 2), Fraction(1, 3))
    assert curve.quantile(0.5) == 3
    assert curve.quantile(0.75) is None


def _reference(observations: list[tuple[int, bool]]) -> list[tuple[int, Fraction]]:
    """(event day, S(t)) in exact Fraction arithmetic, as the curve was computed before."""
    days = sorted({max(0, d) for d, _ in observations})
    at_risk, survival, out = len(observations), Fraction(1), []
    for day in days:
        events = sum(1 for d, p in observations if max(0, d) == day and p)
        if events and at_risk:
            survival *= 1 - Fraction(events, at_risk)
            out.append((day, survival))
        at_risk -= sum(1 for d, _ in observations if max(0, d) == day)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 400), st.booleans()), max_size=300))
def test_survival_kept_as_integer_terms_decides_as_exact_fractions_do(
    observations: list[tuple[int, bool]],
) -> None:
    """Issue 17 (the adoption stage's speed): S(t) is kept as an unreduced integer numerator
    and denominator per event day (`terms`; Fraction arithmetic reduced ever longer integers
    at every step), and its median, p75, shares and S(t) are those of exact Fractions."""
    curve = kaplan_meier(observations)
    expected = _reference(observations)
    assert curve.days == tuple(day for day, _ in expected)
    assert all(Fraction(n, d) == s for (n, d), (_, s) in zip(curve.terms, expected, strict=True))
    assert curve.survival == tuple(s for _, s in expected)
    assert curve.share == tuple(round(float(1 - s), 6) for _, s in expected)
    for q in (0.5, 0.75):
        limit = 1 - Fraction(q)
        assert curve.quantile(q) == next((d for d, s in expected if s <= limit), None)


def test_a_curve_keeps_counts_and_multiplies_its_terms_out_when_read() -> None:
    """Issue 17 (the adoption stage's memory flat to 50k): a curve of 10,000 reps over 400
    event days keeps (at risk, events) per event day, integers no larger than its reps, not
    its terms, whose integers grow by a few digits a day (about 10 MB for the adoption
    table's curves at 50,000 reps); read, the terms are the exact ones, every time."""
    observations = [(day % 400, day % 3 != 0) for day in range(10_000)]
    curve = kaplan_meier(observations)
    arrays = (
        curve.event_days,
        curve.at_risk_on,
        curve.events_on,
        curve.exit_days,
        curve.exit_reps,
    )
    assert all(isinstance(kept, array) for kept in arrays)  # no object per day
    assert max(max(kept) for kept in arrays) <= curve.reps == 10_000
    assert len(curve.days) == len(curve.steps) == len(curve.exits) == 400
    assert curve.steps[0] == (10_000, 25 - 9)
    assert curve.exits[0] == (0, 25)
    terms = curve.terms
    assert terms == curve.terms
    assert max(d for _, d in terms).bit_length() > 4_000  # what is not kept
    expected = _reference(observations)
    assert [Fraction(n, d) for n, d in terms] == [s for _, s in expected]
