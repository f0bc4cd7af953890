"""Per rep x capability adoption state, with the date of every transition (DESIGN.md).

- untrained: no completion (completed/passed) of a module mapped to the capability by D.
- trained-unobserved: trained, not rated on the capability since.
- developing: rated since training, never at or above the threshold.
- adopted: at the first proficient rating after training.
- sustained: at a second proficient rating >= 30 days after adoption and within 180 days of it.
- regressed: after adoption, the next two ratings are both below threshold; a later proficient
  rating makes the capability adopted again (and the 30/180-day clock restarts there).

Ratings are taken in order of visit date then visit id; the training day itself does not count
(the window starts the day after), and nothing after the as-of date D counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from operator import itemgetter
from typing import NamedTuple

SUSTAIN_MIN_DAYS = 30
SUSTAIN_MAX_DAYS = 180
REGRESSION_RUN = 2


class State(StrEnum):
    UNTRAINED = "untrained"
    TRAINED_UNOBSERVED = "trained-unobserved"
    DEVELOPING = "developing"
    ADOPTED = "adopted"
    SUSTAINED = "sustained"
    REGRESSED = "regressed"


class RatingEvent(NamedTuple):
    """A rating as the state machine takes it; any (visit date, visit id, scaled) tuple does
    (adoption.outcomes hands the store's tuples over as they are: ~1M ratings at 50,000
    reps)."""

    visit_date: date
    visit_id: str
    scaled: float


_BY_VISIT = itemgetter(0, 1)  # visit date, visit id


# not frozen: a frozen dataclass sets each field through object.__setattr__ (~370,000
# transitions at 50,000 reps, 2.7x the time of a plain one's __init__); nothing changes one
@dataclass(slots=True)
class Transition:
    state: State
    on: date


@dataclass(slots=True)
class Trajectory:
    state: State
    transitions: list[Transition] = field(default_factory=list)
    first_proficient: date | None = None
    ever_adopted: bool = False


_UNTRAINED = State.UNTRAINED
_UNOBSERVED = State.TRAINED_UNOBSERVED
_DEVELOPING = State.DEVELOPING
_ADOPTED = State.ADOPTED
_SUSTAINED = State.SUSTAINED
_REGRESSED = State.REGRESSED


def trajectory(
    trained_at: date | None,
    ratings: Iterable[tuple[date, str, float]],
    threshold: float,
    as_of: date,
) -> Trajectory:
    """Run the state machine over ratings (RatingEvent's fields; any order, sorted here by
    visit date then visit id, a stable sort) up to and including as_of.

    The state and the path are kept in local variables while the ratings are taken (~1M
    ratings at 50,000 reps), a transition added only when the state changes."""
    if trained_at is None or trained_at > as_of:
        return Trajectory(_UNTRAINED)
    state = _UNOBSERVED
    transitions = [Transition(state, trained_at)]
    first_proficient: date | None = None
    ever_adopted = False
    adopted_on: date | None = None
    lows = 0
    for day, _visit, scaled in sorted(ratings, key=_BY_VISIT):
        if day <= trained_at or day > as_of:
            continue
        proficient = scaled >= threshold
        if proficient and first_proficient is None:
            first_proficient = day
        moved = state
        if state is _UNOBSERVED or state is _DEVELOPING:
            if proficient:
                moved = _ADOPTED
                ever_adopted = True
                adopted_on = day
            else:
                moved = _DEVELOPING
        elif state is _REGRESSED:
            if proficient:
                moved = _ADOPTED
                adopted_on, lows = day, 0
        elif proficient:
            lows = 0
            if state is _ADOPTED and adopted_on is not None:
                gap = (day - adopted_on).days
                if SUSTAIN_MIN_DAYS <= gap <= SUSTAIN_MAX_DAYS:
                    moved = _SUSTAINED
        else:
            lows += 1
            if lows >= REGRESSION_RUN:
                moved = _REGRESSED
                lows = 0
        if moved is not state:
            state = moved
            transitions.append(Transition(state, day))
    return Trajectory(state, transitions, first_proficient, ever_adopted)
