"""What the adoption report shows: plain data, filled by report/assemble.py, drawn by report/html.py.

Every number here has already been through the small-number rules: a suppressed value is
None and carries its tier, so the renderer never decides what may be shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Cell:
    """One group x capability figure: a share in percent (None when not shown)."""

    group: str
    capability: str  # the capability's display name
    value: float | None  # percent 0..100, None when suppressed or counts-only
    numerator: int | None  # None when suppressed
    denominator: int | None
    tier: str  # suppressed | counts-only | directional | comparable
    ci_low: float | None = None  # percent; Wilson 95%
    ci_high: float | None = None
    versus_org: str = ""  # "below" / "above": the whole interval is below / above the org's value


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A region x capability whose adoption interval sits wholly below ("where to act") or
    above ("where it works") the org's adoption for that capability (report/actions.py).
    Percentages 0..100; only rows with a cohort of 10 or more get here."""

    group: str
    capability: str
    tier: str  # directional | comparable
    adopted: int
    cohort: int
    adoption: float  # adopted / cohort
    ci_low: float
    ci_high: float
    org_adoption: float
    coverage: float  # observed / cohort
    org_coverage: float
    adoption_observed: float | None  # adopted / observed
    org_adoption_observed: float | None
    follow_through: float | None  # the row's development actions done / due
    org_follow_through: float | None
    gap: str  # coverage | follow-through | adoption; "" for where it works
    next_step: str


@dataclass(frozen=True, slots=True)
class UpliftRow:
    """What training caused on one capability (adoption/uplift.py, the org-wide row), in
    percentage points; n_trained decides what is shown (None = withheld by the rule)."""

    capability: str
    tier: str  # suppressed | counts-only | directional | comparable
    n_trained: int | None
    n_comparison: int | None
    estimate: float | None  # points: the effect on the share of ratings that are proficient
    ci_low: float | None
    ci_high: float | None
    naive: float | None  # points: the plain before/after, for contrast only
    reason: str = ""  # why no estimate (e.g. no reps untrained in the same weeks)


@dataclass(frozen=True, slots=True)
class RaterInterval:
    """A coaching manager's leniency with its 95 % interval (adoption/raters.py), on the 0..1
    scale; n_reps decides what is shown. Listed by region and name, never ranked."""

    manager: str  # display name or actor pseudonym (adoption.report.show_names)
    region: str
    n_reps: int | None
    tier: str
    leniency: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FunnelStep:
    capability: str
    trained: int
    observed: int
    proficient: int
    sustained: int
    regressed: int = 0
    tier: str = "comparable"  # of the capability's org row: counts-only shows no percentages


@dataclass(frozen=True, slots=True)
class ProficiencyCurve:
    """Kaplan-Meier: share of trained reps proficient by day t after training."""

    capability: str
    days: tuple[int, ...]
    proficient_share: tuple[float, ...]  # 0..1, non-decreasing, same length as days
    median_days: float | None
    p75_days: float | None
    reps: int
    # (tick day, reps still at risk on that day: not yet proficient, not yet censored);
    # None when fewer than 5 (small numbers)
    at_risk: tuple[tuple[int, int | None], ...] = ()


@dataclass(frozen=True, slots=True)
class ManagerGroup:
    """Coaching figures for one first-line manager's team (eligible reps decide the tier)."""

    team: str  # "team <territory>"
    region: str
    eligible_reps: int | None
    coaching_coverage: float | None  # percent
    median_days_to_submit: float | None
    submitted_within_5_business_days: float | None  # percent
    leniency: float | None  # mean scaled rating minus the other raters in the region (scaled units)
    top_box_share: float | None  # percent
    tier: str
    manager: str = ""  # the manager's display name, or their actor pseudonym (adoption.report)
    coached: int | None = None  # eligible reps with a visit in 90 days; None when suppressed


@dataclass(frozen=True, slots=True)
class Freshness:
    """One source's last complete read; stale when older than the threshold or cut short."""

    source: str
    last_complete: str | None  # ISO timestamp of the last read that went to the end
    newest_record: str | None  # the newest record date the source gave
    stale: bool = False
    reason: str = ""  # why it is stale, in words


@dataclass
class ReportData:
    title: str
    as_of: date
    generated_at: str
    window_days: int
    where_to_act: list[Opportunity] = field(default_factory=list)
    where_it_works: list[Opportunity] = field(default_factory=list)
    heatmap: list[Cell] = field(default_factory=list)  # adoption (cohort) by region x capability
    coverage: list[Cell] = field(default_factory=list)  # observation coverage, same grid
    funnel: list[FunnelStep] = field(default_factory=list)
    curves: list[ProficiencyCurve] = field(default_factory=list)
    managers: list[ManagerGroup] = field(default_factory=list)
    follow_through: list[Cell] = field(default_factory=list)  # actions done / due, same grid
    freshness: list[Freshness] = field(default_factory=list)
    uplift: list[UpliftRow] = field(default_factory=list)
    raters: list[RaterInterval] = field(default_factory=list)
    # why there is no uplift or rater section (the optional library is missing), else ""
    uplift_missing: str = ""
    stale_after_days: int = 2
    notes: list[str] = field(default_factory=list)  # e.g. how small numbers were handled

    @property
    def stale(self) -> list[Freshness]:
        return [f for f in self.freshness if f.stale]
