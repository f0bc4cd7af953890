"""Each rep x capability's outcome: trained when, judged or not, observed, proficient, its path.

For each capability c and as-of date D (DESIGN.md, "Adoption"):
- trained_at: the earliest completed/passed completion of any module mapped to c, on or
  before D;
- window: (trained_at, trained_at + W]; cohort: reps with trained_at + W <= D (censoring:
  a rep still inside the window counts nowhere yet);
- observed / proficient in window: >= 1 rating / >= 1 rating at or above the threshold;
- the path: the state machine (adoption.states) over every rating after training up to D.

A person's inputs come from the store one person at a time (store.adoption.person_inputs);
only one rep's ratings are held at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING

from adoptloop.adoption.employment import Employment
from adoptloop.adoption.states import Trajectory, trajectory
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store.adoption import HRRow, person_inputs

if TYPE_CHECKING:
    from sqlalchemy import Connection


Event = tuple[date, str, float]  # a rating: adoption.states.RatingEvent's fields
_CAPABILITY = itemgetter(0)  # a store.adoption.RatingInput's


# not frozen: a frozen dataclass sets each field through object.__setattr__ (~300,000
# outcomes at 50,000 reps, 2.5x the time of a plain one's __init__); nothing changes one
@dataclass(slots=True)
class RepOutcome:
    hr_id: str
    capability_id: str
    trained_at: date | None
    in_cohort: bool
    observed: bool
    proficient: bool
    path: Trajectory
    trained_module: str | None = None  # the module whose completion started the clock


@dataclass(frozen=True, slots=True)
class PersonOutcomes:
    hr_id: str
    history: Employment
    outcomes: list[RepOutcome]  # in capability id order
    posts: Sequence[HRRow] = ()  # the HR rows `history` was made from, by valid_from


def people_outcomes(
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    only: Sequence[str] | None = None,
) -> Iterator[PersonOutcomes]:
    """Per person (in the store's hr_id order), every trained or rated capability's outcome;
    with `only`, just those people. A person with neither (an HR row, or only visits after D
    or on capabilities out of the map) comes with no outcomes: the kept sums rebuilt beside a
    full computation count their coaching coverage (adoption.aggregates.Rebuild)."""
    mapped = capabilities.capabilities
    # each capability's threshold and window, looked up once (not for each of ~300,000
    # outcomes at 50,000 reps)
    rules = {
        c: (capability.threshold, timedelta(days=capabilities.window_days(c)))
        for c, capability in mapped.items()
    }
    for inputs in person_inputs(conn, as_of, only):
        trained = trained_dates(inputs.completions, capabilities, as_of)
        # the person's ratings come by capability: each capability's (visit date, visit id,
        # scaled), RatingEvent's fields, in the read's order
        events: dict[str, list[Event]] = {}
        for capability_id, rows in groupby(inputs.ratings, key=_CAPABILITY):
            if capability_id in mapped:
                events.setdefault(capability_id, []).extend([row[1:] for row in rows])
        hr_id = inputs.hr_id
        outcomes = [
            _outcome((cap, hr_id), trained.get(cap), events.get(cap, []), rules[cap], as_of)
            for cap in sorted(trained.keys() | events.keys())
        ]
        yield PersonOutcomes(hr_id, Employment(inputs.posts), outcomes, inputs.posts)


def trained_dates(
    completions: Sequence[tuple[str, date]], capabilities: CapabilityMap, as_of: date
) -> dict[str, tuple[date, str]]:
    """capability -> (trained_at, the module that started the clock): the earliest
    completed/passed completion on or before `as_of` of any module mapped to it (ties: the
    smallest module id). `completions` are (module, day of its earliest completed/passed one)."""
    trained: dict[str, tuple[date, str]] = {}
    for module_id, day in completions:
        if day > as_of:
            continue
        for capability in capabilities.capabilities_for_module(module_id):
            if capability not in trained or (day, module_id) < trained[capability]:
                trained[capability] = (day, module_id)
    return trained


def _outcome(
    key: tuple[str, str],
    first: tuple[date, str] | None,
    events: list[Event],
    rule: tuple[float, timedelta],
    as_of: date,
) -> RepOutcome:
    """`rule`: the capability's threshold and window."""
    capability_id, hr_id = key
    threshold, window = rule
    if first is None:
        path = trajectory(None, events, threshold, as_of)
        return RepOutcome(hr_id, capability_id, None, False, False, False, path, None)
    trained_at, module = first
    path = trajectory(trained_at, events, threshold, as_of)
    end = trained_at + window
    in_cohort = end <= as_of
    # observed / proficient: a rating (a proficient one) in the window, for the cohort
    observed = proficient = False
    if in_cohort:
        for day, _visit, scaled in events:
            if trained_at < day <= end:
                observed = True
                if scaled >= threshold:
                    proficient = True
                    break
    return RepOutcome(
        hr_id, capability_id, trained_at, in_cohort, observed, proficient, path, module
    )
