"""The per rep x capability state machine (DESIGN.md, "Adoption (the loop)")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from adoptloop.adoption.states import RatingEvent, State, Trajectory, Transition, trajectory

THRESHOLD = 0.75
HIGH = 0.8  # >= 0.75: proficient
LOW = 0.5  # < 0.75: below threshold
TRAINED = date(2024, 3, 1)
AS_OF = date(2024, 12, 31)


def day(offset: int) -> date:
    """The date `offset` days after training (day(0) is the training day)."""
    return TRAINED + timedelta(days=offset)


def rated(offset: int, scaled: float, visit_id: str | None = None) -> RatingEvent:
    return RatingEvent(day(offset), visit_id or f"V-{offset:04d}", scaled)


def run(*ratings: RatingEvent, as_of: date = AS_OF) -> Trajectory:
    return trajectory(TRAINED, ratings, THRESHOLD, as_of)


def path_of(path: Trajectory) -> list[tuple[State, int]]:
    """Transitions as (state, days after training), to read against the story."""
    return [(t.state, (t.on - TRAINED).days) for t in path.transitions]


UNOBSERVED, DEVELOPING = State.TRAINED_UNOBSERVED, State.DEVELOPING
ADOPTED, SUSTAINED, REGRESSED = State.ADOPTED, State.SUSTAINED, State.REGRESSED


def test_rep_without_a_completion_is_untrained_whatever_the_ratings() -> None:
    path = trajectory(None, [rated(5, HIGH)], THRESHOLD, AS_OF)
    assert path.state is State.UNTRAINED
    assert path.transitions == []


def test_completion_after_as_of_leaves_the_rep_untrained() -> None:
    path = trajectory(AS_OF + timedelta(days=1), [], THRESHOLD, AS_OF)
    assert path.state is State.UNTRAINED
    assert path.transitions == []


def test_completion_on_the_as_of_date_counts_as_trained() -> None:
    path = trajectory(AS_OF, [], THRESHOLD, AS_OF)
    assert path.state is UNOBSERVED
    assert path.transitions == [Transition(UNOBSERVED, AS_OF)]


def test_trained_rep_never_rated_is_trained_unobserved_from_the_training_day() -> None:
    path = run()
    assert path.state is UNOBSERVED
    assert path_of(path) == [(UNOBSERVED, 0)]
    assert path.first_proficient is None
    assert not path.ever_adopted


def test_ratings_below_threshold_leave_the_rep_developing_from_the_first_one() -> None:
    path = run(rated(5, LOW), rated(20, 0.7499), rated(40, 0.0))
    assert path.state is DEVELOPING
    assert path_of(path) == [(UNOBSERVED, 0), (DEVELOPING, 5)]  # one transition, first rating
    assert path.first_proficient is None
    assert not path.ever_adopted


def test_rep_adopts_at_the_first_proficient_rating_after_training() -> None:
    path = run(rated(3, LOW), rated(10, HIGH), rated(12, HIGH))
    assert path.state is ADOPTED
    # developing on day 3, adopted on day 10; day 12 is 2 days after adoption (< 30): no change
    assert path_of(path) == [(UNOBSERVED, 0), (DEVELOPING, 3), (ADOPTED, 10)]
    assert path.first_proficient == day(10)
    assert path.ever_adopted


def test_rating_exactly_at_threshold_is_proficient() -> None:
    path = run(rated(7, THRESHOLD))
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 7)]


def test_ratings_on_or_before_the_training_day_do_not_count() -> None:
    path = run(rated(-10, HIGH), rated(0, HIGH))  # before training; the training day itself
    assert path.state is UNOBSERVED
    assert path_of(path) == [(UNOBSERVED, 0)]
    assert path.first_proficient is None


def test_day_after_training_is_the_first_day_that_counts() -> None:
    path = run(rated(0, HIGH), rated(1, HIGH))
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 1)]


def test_rating_after_as_of_is_ignored_and_one_on_as_of_counts() -> None:
    as_of = day(50)
    assert path_of(run(rated(51, HIGH), as_of=as_of)) == [(UNOBSERVED, 0)]
    assert path_of(run(rated(50, HIGH), as_of=as_of)) == [(UNOBSERVED, 0), (ADOPTED, 50)]


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (29, [(ADOPTED, 10)]),  # 29 < 30: too soon, stays adopted
        (30, [(ADOPTED, 10), (SUSTAINED, 40)]),  # 10 + 30 = day 40
        (180, [(ADOPTED, 10), (SUSTAINED, 190)]),  # 10 + 180 = day 190, last day allowed
        (181, [(ADOPTED, 10)]),  # 181 > 180: too late, stays adopted
    ],
)
def test_sustained_needs_a_second_proficient_rating_30_to_180_days_after_adoption(
    gap: int, expected: list[tuple[State, int]]
) -> None:
    path = run(rated(10, HIGH), rated(10 + gap, HIGH))
    assert path_of(path) == [(UNOBSERVED, 0), *expected]
    assert path.state is expected[-1][0]


def test_early_second_proficient_rating_does_not_block_a_later_sustain() -> None:
    # adopted day 10; day 20 is 10 days after (too soon); day 45 is 35 days after -> sustained
    path = run(rated(10, HIGH), rated(20, HIGH), rated(45, HIGH))
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 10), (SUSTAINED, 45)]


def test_two_consecutive_low_ratings_after_adoption_regress_on_the_second() -> None:
    path = run(rated(10, HIGH), rated(20, LOW), rated(25, LOW))
    assert path.state is REGRESSED
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 10), (REGRESSED, 25)]
    assert path.ever_adopted


def test_one_low_rating_between_proficient_ones_does_not_regress() -> None:
    # low, high (8 days after adoption: no sustain), low: never two lows in a row
    path = run(rated(10, HIGH), rated(12, LOW), rated(18, HIGH), rated(22, LOW))
    assert path.state is ADOPTED
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 10)]


def test_sustained_rep_regresses_after_two_low_ratings() -> None:
    # adopted 10, sustained 50 (40 days later), lows on 60 and 70 -> regressed on 70
    path = run(rated(10, HIGH), rated(50, HIGH), rated(60, LOW), rated(70, LOW))
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 10), (SUSTAINED, 50), (REGRESSED, 70)]


def test_proficient_rating_after_regression_adopts_again_and_restarts_the_sustain_clock() -> None:
    path = run(
        rated(10, HIGH),  # adopted
        rated(20, LOW),
        rated(30, LOW),  # regressed
        rated(35, LOW),  # still regressed
        rated(40, HIGH),  # adopted again; clock restarts at day 40
        rated(60, HIGH),  # 60 - 40 = 20 days (< 30); 60 - 10 = 50 would have sustained
        rated(70, HIGH),  # 70 - 40 = 30 days -> sustained
    )
    assert path_of(path) == [
        (UNOBSERVED, 0),
        (ADOPTED, 10),
        (REGRESSED, 30),
        (ADOPTED, 40),
        (SUSTAINED, 70),
    ]
    assert path.first_proficient == day(10)  # the first ever, not the re-adoption
    assert path.ever_adopted


def test_lows_before_regression_do_not_carry_over_after_readoption() -> None:
    # regressed on 30, adopted again on 40, one low on 45: one low is not two
    path = run(rated(10, HIGH), rated(20, LOW), rated(30, LOW), rated(40, HIGH), rated(45, LOW))
    assert path.state is ADOPTED
    assert path_of(path)[-1] == (ADOPTED, 40)


def test_ratings_are_taken_by_visit_date_whatever_order_they_arrive_in() -> None:
    path = run(rated(20, LOW, "V-A"), rated(10, HIGH, "V-Z"))
    # day 10 (V-Z) comes first despite its id: adopted on 10, one low on 20
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 10)]


def test_same_day_ratings_are_taken_in_visit_id_order() -> None:
    # Both on day 5, supplied high-first; by visit id V-0001 (low) comes before V-0002 (high):
    # developing then adopted on day 5. One more low on day 6 is the first low after adoption.
    path = run(rated(5, HIGH, "V-0002"), rated(5, LOW, "V-0001"), rated(6, LOW, "V-0003"))
    assert path_of(path) == [(UNOBSERVED, 0), (DEVELOPING, 5), (ADOPTED, 5)]
    assert path.state is ADOPTED
    # Had V-0002 gone first: adopted, then lows V-0001 and V-0003 -> regressed on day 6.


def test_visit_ids_compare_as_text() -> None:
    # "V-10" < "V-9" as strings: the high rating V-10 is taken first on the shared day
    path = run(rated(5, LOW, "V-9"), rated(5, HIGH, "V-10"))
    assert path_of(path) == [(UNOBSERVED, 0), (ADOPTED, 5)]
