"""An independent, deliberately naive reading of DESIGN.md's "Adoption (the loop)".

Written from DESIGN.md's text alone (not from the engine) to check `adoptloop adoption --format
csv` cell by cell. Inputs are the files as a customer writes them (HR rows in the explicit form:
valid_from/valid_to and termination_date inclusive), so the whole pipeline is under test. Every
day is walked one by one; every fraction is exact until the CSV rounds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from statistics import NormalDist
from typing import Any

COLUMNS = [
    "group",
    "capability",
    "eligible",
    "trained",
    "cohort",
    "observed",
    "adopted",
    "sustained",
    "regressed",
    "adoption_observed",
    "adoption_observed_ci_low",
    "adoption_observed_ci_high",
    "adoption_cohort",
    "observation_coverage",
    "median_days_to_proficiency",
    "p75_days_to_proficiency",
    "coaching_coverage",
    "action_follow_through",
    "suppressed",
    "directional",
]
COUNTED_STATUSES = ("Submitted", "Approved")
NOT_DUE_STATUSES = ("Cancelled",)


@dataclass(frozen=True)
class Row:
    hr_id: str
    role: str
    manager: str
    region: str
    team: str
    valid_from: date
    valid_to: date | None = None
    termination: date | None = None
    hire: date | None = None


@dataclass(frozen=True)
class Completion:
    record_id: str
    hr_id: str
    module: str
    status: str
    day: date


@dataclass(frozen=True)
class Visit:
    visit_id: str
    observer: str
    observed: str
    day: date
    status: str
    ratings: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    action_id: str
    hr_id: str
    capability: str
    agreed: date
    due: date | None
    completed: date | None
    status: str


@dataclass(frozen=True)
class CapMap:
    """capability id -> (threshold, window days); module -> capabilities; item -> capability."""

    capabilities: dict[str, tuple[float, int]]
    modules: dict[str, list[str]]
    items: dict[str, str]
    scale: tuple[int, int] = (1, 5)


def row_on(rows: list[Row], hr_id: str, day: date) -> Row | None:
    """The row in effect on `day`: covering it (inclusive ends), the latest valid_from wins."""
    best: Row | None = None
    for r in rows:
        if r.hr_id != hr_id or r.valid_from > day:
            continue
        end = r.valid_to
        if r.termination is not None and (end is None or r.termination < end):
            end = r.termination
        if end is not None and day > end:
            continue
        if best is None or r.valid_from > best.valid_from:
            best = r
    return best


def scaled(value: int, cmap: CapMap) -> Fraction:
    lo, hi = cmap.scale
    return Fraction(value - lo, hi - lo)


def half_up(x: Fraction | float) -> str:
    d = (
        Decimal(x.numerator) / Decimal(x.denominator)
        if isinstance(x, Fraction)
        else Decimal(repr(x))
    )
    return str(d.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def wilson(k: int, n: int) -> tuple[float, float]:
    z = NormalDist().inv_cdf(0.975)
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    den = 1 + z * z / n
    return (centre - half) / den, (centre + half) / den


def km_quantiles(times: list[tuple[int, bool]]) -> tuple[int | None, int | None]:
    """(duration, event) -> (median, p75): first day with S <= 1/2, <= 1/4. Censored on an
    event day is still at risk that day."""
    s = Fraction(1)
    median = p75 = None
    for t in sorted({d for d, e in times if e}):
        at_risk = sum(1 for d, _ in times if d >= t)
        events = sum(1 for d, e in times if e and d == t)
        s *= 1 - Fraction(events, at_risk)
        if median is None and s <= Fraction(1, 2):
            median = t
        if p75 is None and s <= Fraction(1, 4):
            p75 = t
    return median, p75


def ratings_of(
    visits: list[Visit], hr_id: str, cap: str, cmap: CapMap, d: date
) -> list[tuple[date, Fraction]]:
    """Submitted ratings of `cap` on `hr_id` dated <= D, in visit date then visit id order."""
    out = []
    for v in sorted(visits, key=lambda v: (v.day, v.visit_id)):
        if v.observed != hr_id or v.status not in COUNTED_STATUSES or v.day > d:
            continue
        for item, value in v.ratings.items():
            if cmap.items.get(item) == cap:
                out.append((v.day, scaled(value, cmap)))
    return out


def state_on(ratings: list[tuple[date, Fraction]], trained_at: date, threshold: Fraction) -> str:
    state, spell, below = "trained", None, 0
    for day, score in ratings:
        if day <= trained_at:
            continue
        prof = score >= threshold
        if state in ("trained", "developing", "regressed"):
            if prof:
                state, spell, below = "adopted", day, 0
            elif state == "trained":
                state = "developing"
            continue
        # adopted or sustained
        if prof:
            below = 0
            assert spell is not None
            if state == "adopted" and 30 <= (day - spell).days <= 180:
                state = "sustained"
        else:
            below += 1
            if below == 2:
                state, below = "regressed", 0
    return state


def compute(
    rows: list[Row],
    completions: list[Completion],
    visits: list[Visit],
    actions: list[Action],
    cmap: CapMap,
    d: date,
    by: str,
) -> list[dict[str, str]]:
    def label_on(r: Row, day: date) -> str | None:
        """The group of a row. DESIGN.md is silent on a row without one (no manager): the
        engine's documented choice (store/metrics.py NO_GROUP) is a group named "(none)"."""
        if by == "team" and not r.team:  # no team: the first-line manager's reps
            m = row_on(rows, r.manager, day) if r.manager else None
            return f"team T{m.region}" if m else "(none)"
        return {"region": r.region, "team": r.team, "manager": r.manager}[by] or "(none)"

    people = sorted({r.hr_id for r in rows})
    caps = list(cmap.capabilities)
    # pairs[(group, cap)] -> list of per-pair dicts
    pairs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    groups: set[str] = set()
    for cap in caps:
        threshold, w = cmap.capabilities[cap]
        thr = Fraction(threshold).limit_denominator(10**6)
        for p in people:
            days = [
                c.day
                for c in completions
                if c.hr_id == p
                and c.status in ("completed", "passed")
                and c.day <= d
                and cap in cmap.modules.get(c.module, [])
            ]
            if not days:
                continue
            t = min(days)
            close = min(t + timedelta(days=w), d)
            r = row_on(rows, p, close)
            if r is None or r.role != "rep":
                continue
            g = label_on(r, close)
            rs = ratings_of(visits, p, cap, cmap, d)
            in_window = [s for day, s in rs if t < day <= t + timedelta(days=w)]
            first_prof = next((day for day, s in rs if day > t and s >= thr), None)
            pair = {
                "cohort": t + timedelta(days=w) <= d,
                "observed": bool(in_window),
                "adopted": any(s >= thr for s in in_window),
                "state": state_on(rs, t, thr),
                "km": ((first_prof - t).days, True) if first_prof else ((d - t).days, False),
            }
            for key in (g, "(all)") if g else ("(all)",):
                groups.add(key)
                pairs.setdefault(cap, {}).setdefault(key, []).append(pair)
    # coaching coverage
    window = [d - timedelta(days=i) for i in range(89, -1, -1)]
    eligible: dict[str, list[bool]] = {}
    for p in people:
        employed = [day for day in window if row_on(rows, p, day) is not None]
        if len(employed) < 45:
            continue
        r = row_on(rows, p, employed[-1])
        assert r is not None
        if r.role != "rep":
            continue
        visited = any(
            v.observed == p and v.status in COUNTED_STATUSES and window[0] <= v.day <= d
            for v in visits
        )
        g = label_on(r, employed[-1])
        for key in (g, "(all)") if g else ("(all)",):
            groups.add(key)
            eligible.setdefault(key, []).append(visited)
    # follow-through
    follow: dict[tuple[str, str], list[bool]] = {}
    for a in actions:
        if a.status in NOT_DUE_STATUSES or a.due is None or a.agreed > d:
            continue
        if not (window[0] <= a.due <= d):
            continue
        r = row_on(rows, a.hr_id, a.due)
        # follow-through is a coaching metric: only a `rep` row counts (DESIGN.md: "Only `rep`
        # rows count in cohorts and coaching metrics")
        if r is None or r.role != "rep":
            continue
        g = label_on(r, a.due)
        on_time = a.completed is not None and a.completed <= min(a.due + timedelta(days=7), d)
        for key in (g, "(all)") if g else ("(all)",):
            groups.add(key)
            follow.setdefault((key, a.capability), []).append(on_time)
    out = []
    for cap in caps:
        for g in [*sorted(groups - {"(all)"}), "(all)"]:
            ps = pairs.get(cap, {}).get(g, [])
            coh = [x for x in ps if x["cohort"]]
            n = len(coh)
            obs = sum(x["observed"] for x in coh)
            adp = sum(x["adopted"] for x in coh)
            el = eligible.get(g, [])
            fo = follow.get((g, cap), [])
            med, p75 = km_quantiles([x["km"] for x in ps]) if ps else (None, None)
            row = dict.fromkeys(COLUMNS, "")
            row["group"], row["capability"] = g, cap
            row["suppressed"] = "true" if n < 5 else "false"
            row["directional"] = "true" if 10 <= n <= 29 else "false"
            if n >= 5:
                row.update(
                    eligible=str(len(el)),
                    trained=str(len(ps)),
                    cohort=str(n),
                    observed=str(obs),
                    adopted=str(adp),
                    sustained=str(sum(x["state"] == "sustained" for x in ps)),
                    regressed=str(sum(x["state"] == "regressed" for x in ps)),
                )
            if n >= 10:
                if obs:
                    lo, hi = wilson(adp, obs)
                    row["adoption_observed"] = half_up(Fraction(adp, obs))
                    row["adoption_observed_ci_low"] = half_up(lo)
                    row["adoption_observed_ci_high"] = half_up(hi)
                row["adoption_cohort"] = half_up(Fraction(adp, n))
                row["observation_coverage"] = half_up(Fraction(obs, n))
                row["median_days_to_proficiency"] = "" if med is None else str(med)
                row["p75_days_to_proficiency"] = "" if p75 is None else str(p75)
                if el:
                    row["coaching_coverage"] = half_up(Fraction(sum(el), len(el)))
                if fo:
                    row["action_follow_through"] = half_up(Fraction(sum(fo), len(fo)))
            out.append(row)
    return out
