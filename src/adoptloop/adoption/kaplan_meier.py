"""Kaplan-Meier time to proficiency: every rep trained on c by D counts, censored at D.

A rep rated proficient d days after training is an event at d; a rep not (yet) proficient
is censored at the days from training to D. The curve is the share proficient by day t,
1 - S(t); the median (p75) is the first day the share reaches 50% (75%), None if it never
does within what was observed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Curve:
    days: tuple[int, ...]
    share: tuple[float, ...]  # proficient by that day, 0..1
    reps: int

    def quantile(self, q: float) -> float | None:
        for day, share in zip(self.days, self.share, strict=True):
            if share >= q - 1e-12:
                return float(day)
        return None


def kaplan_meier(observations: Iterable[tuple[int, bool]]) -> Curve:
    """`observations`: (days, proficient) per rep; proficient=False means censored at `days`."""
    events: Counter[int] = Counter()
    censored: Counter[int] = Counter()
    for days, proficient in observations:
        (events if proficient else censored)[max(0, days)] += 1
    at_risk = sum(events.values()) + sum(censored.values())
    total = at_risk
    survival = 1.0
    days_out: list[int] = []
    share_out: list[float] = []
    for day in sorted(set(events) | set(censored)):
        if events[day] and at_risk:
            survival *= 1 - events[day] / at_risk
            days_out.append(day)
            share_out.append(round(1 - survival, 6))
        at_risk -= events[day] + censored[day]
    return Curve(tuple(days_out), tuple(share_out), total)
