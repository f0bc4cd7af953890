"""A seeded simulated org for the uplift and rater tests, with the truth planted.

Three regions of four managers with ten reps each, plus one manager (`iso`) in region R0 whose
reps nobody else rates and who rates nobody else's. Over 540 days every rep is rated on each
capability about every three weeks, by their own manager (75 %) or another manager of the
region. The chance a rating is proficient is

    p = 0.25 + ability(rep) + leniency(rater) + 0.25 * day / 540 + effect(c) * [trained < day]

(clipped to 0.02..0.98): a secular upward trend; weaker reps trained first (four waves by
ability, the strongest fifth never trained); lenient managers leading weaker teams (team
ability = -1.2 * leniency). A proficient rating is scaled 0.75 or 1.0, another 0, 0.25 or 0.5
(threshold 0.75), so a rater's leniency on the 0..1 scale is 0.625 x theirs on p.

`true_att` is the realised effect on the share proficient over the treated in-window ratings
(the mean of clip(p with) - clip(p without)): what the estimator targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from adoptloop.adoption.raters import CountedRatings
from adoptloop.adoption.uplift import Rating

START = date(2024, 1, 1)
DAYS = 540
WINDOW = 90
EFFECTS = {"large": 0.20, "small": 0.08, "zero": 0.0}
THRESHOLD = 0.75


@dataclass
class Org:
    ratings: dict[str, list[Rating]] = field(default_factory=dict)
    rated: list[tuple[str, str, str, date, float]] = field(default_factory=list)
    true_att: dict[str, float] = field(default_factory=dict)
    leniency: dict[str, float] = field(default_factory=dict)  # rater -> planted, on p
    regions: dict[str, str] = field(default_factory=dict)

    @property
    def counted(self) -> CountedRatings:
        """The ratings as the leniency model takes them (raters.CountedRatings)."""
        raters, reps, capabilities, days, scaled = zip(*self.rated, strict=True)
        return CountedRatings(
            np.array(raters, dtype=object),
            np.array(reps, dtype=object),
            np.array(capabilities, dtype=object),
            np.array([d.toordinal() for d in days], dtype=np.int64),
            np.array(scaled, dtype=np.float64),
            self.regions,
        )


def _clip(p: float) -> float:
    return min(max(p, 0.02), 0.98)


def simulate(seed: int, *, regions: int = 3, managers: int = 4, reps: int = 10) -> Org:
    rng = np.random.default_rng(seed)
    org = Org()
    people: list[tuple[str, str, str, float]] = []  # rep, manager, region, ability
    for r in range(regions):
        region = f"R{r}"
        names = [f"m{r}{m}" for m in range(managers)] + (["iso"] if r == 0 else [])
        for manager in names:
            org.leniency[manager] = float(rng.uniform(-0.08, 0.08))
            org.regions[manager] = region
            team = -2.0 * org.leniency[manager]
            people.extend(
                (f"{manager}-r{k}", manager, region, team + float(rng.normal(0, 0.05)))
                for k in range(reps)
            )
    order = np.argsort([a for *_, a in people])
    waves = (120, 210, 300, 390)
    trained: dict[str, int | None] = {}
    for rank, i in enumerate(order):
        wave = rank * 5 // len(people)
        trained[people[i][0]] = waves[wave] + int(rng.integers(0, 14)) if wave < 4 else None
    peers = {
        region: sorted(m for m, g in org.regions.items() if g == region and m != "iso")
        for region in set(org.regions.values())
    }
    for capability, effect in EFFECTS.items():
        rows: list[Rating] = []
        gains: list[float] = []
        for rep, manager, region, ability in people:
            t = trained[rep]
            trained_at = START + timedelta(days=t) if t is not None else None
            day = int(rng.integers(0, 21))
            while day < DAYS:
                others = [m for m in peers[region] if m != manager]
                rater = manager
                if manager != "iso" and rng.random() >= 0.75:
                    rater = others[int(rng.integers(len(others)))]
                base = 0.25 + ability + org.leniency[rater] + 0.25 * day / DAYS
                post = t is not None and day > t
                p = _clip(base + effect) if post else _clip(base)
                if post and t is not None and day <= t + WINDOW:
                    gains.append(_clip(base + effect) - _clip(base))
                proficient = bool(rng.random() < p)
                scaled = float(
                    rng.choice([0.75, 1.0]) if proficient else rng.choice([0, 0.25, 0.5])
                )
                visit = START + timedelta(days=day)
                rows.append(Rating(rep, visit, scaled >= THRESHOLD, trained_at))
                org.rated.append((rater, rep, capability, visit, scaled))
                day += int(rng.integers(1, 42))
        org.ratings[capability] = rows
        org.true_att[capability] = float(np.mean(gains))
    return org
