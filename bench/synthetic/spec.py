"""What a synthetic org looks like (OrgSpec) and what writing it produced (GeneratedCounts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class OrgSpec:
    """The shape of the synthetic org. ``reps`` counts all field staff (rep, kam, msl)."""

    reps: int = 80
    regions: tuple[str, ...] = ("North", "South", "West")
    reps_per_manager: int = 8
    start: date = date(2026, 1, 1)  # coaching period
    end: date = date(2026, 6, 30)
    training_end: date = date(2026, 3, 31)  # completions fall in [start, training_end]
    seed: int = 20260101
    bad_rows: bool = True
    bad_share: float = 0.0  # share of LMS/CRM rows corrupted in place, on top of `bad_rows`

    def __post_init__(self) -> None:
        if self.reps < 1 or self.reps_per_manager < 1 or not self.regions:
            raise ValueError("OrgSpec needs reps >= 1, reps_per_manager >= 1 and a region")
        if not self.start <= self.training_end <= self.end:
            raise ValueError("OrgSpec needs start <= training_end <= end")
        if not 0 <= self.bad_share < 0.5:
            raise ValueError("OrgSpec needs 0 <= bad_share < 0.5")


@dataclass(frozen=True)
class GeneratedCounts:
    """Data rows written per file (header excluded, deliberately bad rows included)."""

    people: int
    completions: int
    coaching_reports: int
    development_actions: int
    calls: int
    bad_rows: int
    api_records: int = 0  # records written for the fake APIs (generate_org(..., apis=True))
