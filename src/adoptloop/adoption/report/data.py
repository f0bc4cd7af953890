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
    flagged: bool = False  # the interval excludes the overall value


@dataclass(frozen=True, slots=True)
class FunnelStep:
    capability: str
    trained: int
    observed: int
    proficient: int
    sustained: int


@dataclass(frozen=True, slots=True)
class ProficiencyCurve:
    """Kaplan-Meier: share of trained reps proficient by day t after training."""

    capability: str
    days: tuple[int, ...]
    proficient_share: tuple[float, ...]  # 0..1, non-decreasing, same length as days
    median_days: float | None
    p75_days: float | None
    reps: int


@dataclass(frozen=True, slots=True)
class ManagerGroup:
    """Coaching figures for one first-line manager's team (labelled by territory, not by name)."""

    team: str
    region: str
    eligible_reps: int | None
    coaching_coverage: float | None  # percent
    median_days_to_submit: float | None
    submitted_within_5_business_days: float | None  # percent
    leniency: float | None  # mean scaled rating minus the other raters in the region (scaled units)
    top_box_share: float | None  # percent
    tier: str


@dataclass(frozen=True, slots=True)
class FollowThrough:
    group: str
    due: int | None
    completed: int | None
    on_time: int | None
    share_completed: float | None  # percent
    share_on_time: float | None
    tier: str


@dataclass(frozen=True, slots=True)
class Freshness:
    source: str
    stream: str
    last_synced: str | None  # ISO timestamp of the last successful cursor update
    newest_record: str | None  # the newest record date seen in that stream's table


@dataclass
class ReportData:
    title: str
    as_of: date
    generated_at: str
    window_days: int
    heatmap: list[Cell] = field(default_factory=list)  # adoption (cohort) by region x capability
    coverage: list[Cell] = field(default_factory=list)  # observation coverage, same grid
    funnel: list[FunnelStep] = field(default_factory=list)
    curves: list[ProficiencyCurve] = field(default_factory=list)
    managers: list[ManagerGroup] = field(default_factory=list)
    follow_through: list[FollowThrough] = field(default_factory=list)
    freshness: list[Freshness] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. how small numbers were handled
