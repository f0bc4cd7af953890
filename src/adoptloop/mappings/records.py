"""What the translators read: domain records as the store keeps them, people as HR ids.

The pull stage resolves every PersonRef to an HR id (or ERASED) and scales each rating once;
the translate stage reads back the rows that changed and hands them to the translators in
these shapes. `deleted` marks a record the source deleted: its statements are voided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adoptloop.domain import ActionStatus, CompletionStatus, Rating


@dataclass(frozen=True, slots=True)
class StoredCompletion:
    source: str
    record_id: str
    hr_id: str
    module_id: str
    module_title: str | None
    status: CompletionStatus
    completed_at: str  # ISO 8601 UTC with milliseconds and Z: the statement's timestamp
    score: float | None  # 0..100
    deleted: bool


@dataclass(frozen=True, slots=True)
class StoredObservation:
    source: str
    record_id: str
    observer_hr_id: str  # ERASED once the observing manager was erased
    observed_hr_id: str
    visit_date: date
    timezone: str
    status: str
    counted: bool
    submitted_at: str | None
    modified_at: str | None
    has_next_step: bool
    names_capability: bool
    word_count: int
    deleted: bool
    ratings: tuple[Rating, ...]  # in item order


@dataclass(frozen=True, slots=True)
class StoredAction:
    source: str
    record_id: str
    hr_id: str
    capability_id: str
    agreed_on: date
    due_on: date | None
    completed_on: date | None
    status: ActionStatus
    observation_record_id: str | None
    deleted: bool


@dataclass(frozen=True, slots=True)
class AdoptionTransitions:
    """One rep x capability's adoption state changes (adoption/compute.py), as of a run."""

    source: str  # "adoption"
    record_id: str  # hr_id/capability_id
    hr_id: str
    capability_id: str
    trained_at: date | None
    transitions: tuple[tuple[str, date], ...]  # (adopted | sustained | regressed, on), in order
    deleted: bool


StoredRecord = StoredCompletion | StoredObservation | StoredAction | AdoptionTransitions


@dataclass(frozen=True, slots=True)
class EstimatedUplift:
    """A capability's uplift (adoption/uplift.py, the `(all)` row) as its statement carries it:
    fractions already rounded to 4 decimals; only rows whose estimate the small-number rule
    shows become records."""

    capability_id: str
    estimate: float
    ci_low: float
    ci_high: float
    n_trained: int
    n_comparison: int
    method: str


@dataclass(frozen=True, slots=True)
class EstimatedLeniency:
    """A coaching manager's leniency (adoption/raters.py) as its statement carries it."""

    manager_hr_id: str
    leniency: float
    ci_low: float
    ci_high: float
    n_ratings: int
    n_reps: int
