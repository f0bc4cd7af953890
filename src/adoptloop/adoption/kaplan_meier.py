"""Kaplan-Meier time to proficiency (DESIGN.md, precise rules).

Each rep trained on c by D counts: a rep rated proficient d days after training is an event at
d; a rep not (yet) proficient is censored at D - trained_at (leavers too). A rep censored on an
event day is still at risk that day. The survival S(t) is kept exact (fractions), so that the
median, the first day with S(t) <= 1/2, and the p75, the first day with S(t) <= 1/4, are
decided exactly; the curve drawn is the share proficient by day t, 1 - S(t).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Curve:
    days: tuple[int, ...]  # the event days
    survival: tuple[Fraction, ...]  # S(t) just after each event day
    reps: int
    exits: tuple[tuple[int, int], ...] = ()  # (day, reps leaving the risk set that day), by day

    def at_risk(self, day: int) -> int:
        """Reps still at risk on `day`: neither proficient nor censored before it (a rep whose
        event or censoring falls on `day` is still at risk that day)."""
        return self.reps - sum(n for d, n in self.exits if d < day)

    @property
    def share(self) -> tuple[float, ...]:
        """The share proficient by each event day, 0..1 (rounded to 6 places, for charts)."""
        return tuple(round(float(1 - s), 6) for s in self.survival)

    def quantile(self, q: float) -> int | None:
        """The first day the share proficient reaches q (S(t) <= 1 - q); None if it never does
        within what was observed."""
        limit = 1 - Fraction(q)
        return next((d for d, s in zip(self.days, self.survival, strict=True) if s <= limit), None)


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
    survival = Fraction(1)
    days_out: list[int] = []
    survival_out: list[Fraction] = []
    for day in sorted(set(events) | set(censored)):
        if events[day] and at_risk:
            survival *= 1 - Fraction(events[day], at_risk)
            days_out.append(day)
            survival_out.append(survival)
        at_risk -= events[day] + censored[day]
    exits = tuple((day, events[day] + censored[day]) for day in sorted(set(events) | set(censored)))
    return Curve(tuple(days_out), tuple(survival_out), total, exits)
