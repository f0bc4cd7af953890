"""Kaplan-Meier time to proficiency (DESIGN.md, precise rules).

Each rep trained on c by D counts: a rep rated proficient d days after training is an event at
d; a rep not (yet) proficient is censored at D - trained_at (leavers too). A rep censored on an
event day is still at risk that day. The survival S(t) is kept exact, so that the median, the
first day with S(t) <= 1/2, and the p75, the first day with S(t) <= 1/4, are decided exactly;
the curve drawn is the share proficient by day t, 1 - S(t).

S(t) is the product over event days of (at risk - events) / at risk, kept as an integer
numerator and denominator that are never reduced: multiplying integers is cheap, while
`Fraction` takes greatest common divisors of ever longer integers at every step (0.6 of the
2.1 CPU-s of an unchanged adoption stage at 2,000 reps, profiled). Comparisons are made by
cross-multiplying, and 1 - S(t) as a float is the same correctly rounded quotient, whatever
the form of the fraction.

A curve keeps the reps at risk and the events of each event day, and multiplies the terms out
when they are read: kept, the terms' integers grow by a few digits a day (about 10 MB for the
adoption table's curves at 50,000 reps), and the table reads each curve's only once or twice.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Curve:
    """The counts are kept as typed arrays (8 bytes a number, no object per day: the table's
    curves at 50,000 reps have about 50,000 exit days); `days`, `steps` and `exits` read them
    as tuples."""

    event_days: array[int]  # the event days
    # reps at risk and events on each event day: S(t) is the product of (at risk - events) /
    # at risk up to t
    at_risk_on: array[int]
    events_on: array[int]
    reps: int
    exit_days: array[int]  # the days reps leave the risk set (an event or a censoring), by day
    exit_reps: array[int]  # how many leave on each

    @property
    def days(self) -> tuple[int, ...]:
        return tuple(self.event_days)

    @property
    def steps(self) -> tuple[tuple[int, int], ...]:
        """(reps at risk, events) on each event day."""
        return tuple(zip(self.at_risk_on, self.events_on, strict=True))

    @property
    def exits(self) -> tuple[tuple[int, int], ...]:
        """(day, reps leaving the risk set that day), by day."""
        return tuple(zip(self.exit_days, self.exit_reps, strict=True))

    @property
    def terms(self) -> tuple[tuple[int, int], ...]:
        """S(t) just after each event day, as (numerator, denominator), not reduced."""
        return tuple(self._terms())

    def _terms(self) -> Iterator[tuple[int, int]]:
        numerator = denominator = 1
        for at_risk, events in zip(self.at_risk_on, self.events_on, strict=True):
            numerator *= at_risk - events
            denominator *= at_risk
            yield numerator, denominator

    @property
    def survival(self) -> tuple[Fraction, ...]:
        """S(t) just after each event day."""
        return tuple(Fraction(n, d) for n, d in self._terms())

    def at_risk(self, day: int) -> int:
        """Reps still at risk on `day`: neither proficient nor censored before it (a rep whose
        event or censoring falls on `day` is still at risk that day)."""
        return self.reps - sum(
            n for d, n in zip(self.exit_days, self.exit_reps, strict=True) if d < day
        )

    @property
    def share(self) -> tuple[float, ...]:
        """The share proficient by each event day, 0..1 (rounded to 6 places, for charts):
        (d - n) / d is the correctly rounded float of 1 - S(t), as float(1 - S(t)) is."""
        return tuple(round((d - n) / d, 6) for n, d in self._terms())

    def quantile(self, q: float) -> int | None:
        """The first day the share proficient reaches q (S(t) <= 1 - q); None if it never does
        within what was observed."""
        limit = 1 - Fraction(q)
        top, bottom = limit.numerator, limit.denominator
        return next(
            (
                day
                for day, (n, d) in zip(self.event_days, self._terms(), strict=True)
                if n * bottom <= top * d
            ),
            None,
        )


def kaplan_meier(observations: Iterable[tuple[int, bool]]) -> Curve:
    """`observations`: (days, proficient) per rep; proficient=False means censored at `days`."""
    return kaplan_meier_counts(Counter(observations))


def kaplan_meier_counts(observations: Mapping[tuple[int, bool], int]) -> Curve:
    """kaplan_meier over counted observations: (days, proficient) -> reps."""
    events: Counter[int] = Counter()
    censored: Counter[int] = Counter()
    for (days, proficient), n in observations.items():
        (events if proficient else censored)[max(0, days)] += n
    at_risk = sum(events.values()) + sum(censored.values())
    total = at_risk
    event_days, at_risk_on, events_on = array("q"), array("q"), array("q")
    exit_days, exit_reps = array("q"), array("q")
    for day in sorted(set(events) | set(censored)):
        if events[day] and at_risk:
            event_days.append(day)
            at_risk_on.append(at_risk)
            events_on.append(events[day])
        exit_days.append(day)
        exit_reps.append(events[day] + censored[day])
        at_risk -= events[day] + censored[day]
    return Curve(event_days, at_risk_on, events_on, total, exit_days, exit_reps)
