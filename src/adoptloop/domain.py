"""The records every connector yields, and nothing else.

Connectors turn vendor payloads into these; everything downstream (identity resolution, the
store, translators, the adoption engine) only ever sees these. They are plain frozen
dataclasses: cheap to build in the millions, hashable, and comparable in tests.

Free text never gets past a connector: a coaching report's comments become the derived
features `has_next_step`, `names_capability` and `word_count`, and the text is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

CompletionStatus = Literal["completed", "passed", "failed"]
ActionStatus = Literal["open", "completed", "cancelled"]
# The roles the adoption metrics know: only `rep` is a field role (cohorts, coaching metrics);
# `manager` is a first-line manager (coach-the-coach). An HR value becomes one of these once, at
# pull, through the `roles:` map (adoptloop.mappings.roles).
Role = Literal["rep", "manager", "director", "other"]

ERASED = "(erased)"  # stands in for the hr_id of a person erased from the store


@dataclass(frozen=True, slots=True)
class PersonRef:
    """How a source system names a person: its own id, plus attributes identity rules may use."""

    system: str
    external_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Person:
    """One effective-dated HR row; `hr_id` is the golden key across all systems."""

    hr_id: str
    valid_from: date
    first_name: str
    last_name: str
    email: str | None
    employee_number: str | None
    role: str  # as the HRIS says it (a role or job title); stored as a `Role` after the map
    manager_hr_id: str | None
    region: str | None
    country: str | None
    territory: str | None
    business_unit: str | None
    status: Literal["active", "terminated"]
    hire_date: date | None
    termination_date: date | None  # the last day employed
    # the team as HR names it (its own column, not the manager's reports); None: not given,
    # and `--by team` falls back to the manager's team
    team: str | None = None
    location: str | None = field(default=None, compare=False)  # e.g. "people.csv:17"


@dataclass(frozen=True, slots=True)
class Account:
    """A user record of a source system (a Salesforce User, an LMS user) to resolve to an hr_id."""

    ref: PersonRef
    active: bool = True
    location: str | None = field(default=None, compare=False)  # e.g. "people.csv:17"


@dataclass(frozen=True, slots=True)
class Completion:
    source_record_id: str
    learner: PersonRef
    module_id: str
    module_title: str | None
    status: CompletionStatus
    completed_at: datetime
    score: float | None  # 0..100 as the LMS reports it
    location: str | None = field(default=None, compare=False)  # e.g. "people.csv:17"


@dataclass(frozen=True, slots=True)
class Rating:
    """One rating of a coaching item, scaled once at pull through the capability map."""

    item: str  # the coaching item as configured: a field name or a question id
    capability_id: str  # the capability the item rates
    raw: float  # as the source wrote it, on [scale_min, scale_max]
    scale_min: float
    scale_max: float
    scaled: float  # (raw - scale_min) / (scale_max - scale_min), 4 decimals


@dataclass(frozen=True, slots=True)
class CoachingObservation:
    source_record_id: str
    observer: PersonRef
    observed: PersonRef
    visit_date: date  # local date of the visit
    timezone: str  # IANA name the visit date is local to
    status: str  # the source's own status value
    counted: bool  # submitted/completed: only these count
    submitted_at: datetime | None
    modified_at: datetime | None
    ratings: tuple[Rating, ...]
    has_next_step: bool
    names_capability: bool
    word_count: int
    location: str | None = field(default=None, compare=False)  # e.g. "people.csv:17"


@dataclass(frozen=True, slots=True)
class DevelopmentAction:
    source_record_id: str
    person: PersonRef
    capability_id: str
    agreed_on: date
    due_on: date | None
    completed_on: date | None
    status: ActionStatus
    observation_record_id: str | None
    location: str | None = field(default=None, compare=False)  # e.g. "people.csv:17"


@dataclass(frozen=True, slots=True)
class FieldInteraction:
    source_record_id: str
    rep: PersonRef
    date: date
    channel: str | None
    type: str | None
    status: str | None
    manager: PersonRef | None  # set when a manager rode along
    location: str | None = field(default=None, compare=False)  # e.g. "people.csv:17"


Record = Person | Account | Completion | CoachingObservation | DevelopmentAction | FieldInteraction


def people_named(record: Record) -> tuple[PersonRef, ...]:
    """The source accounts a record names, in the order the pull resolves them (an HR row names
    people by HR id, not by account: none)."""
    if isinstance(record, Account):
        return (record.ref,)
    if isinstance(record, Completion):
        return (record.learner,)
    if isinstance(record, CoachingObservation):
        return (record.observer, record.observed)
    if isinstance(record, DevelopmentAction):
        return (record.person,)
    if isinstance(record, FieldInteraction):
        return (record.rep,) if record.manager is None else (record.rep, record.manager)
    return ()


def shown(value: object) -> str:
    """A source value as a reason (a quarantine entry, a row defect) may show it: its shape, never
    its content, because quarantine keeps no free text (a comment typed into a date column, a
    name): each digit as 9, each letter as a, other characters as they are ('9999-99-99' for
    2026-13-45); a value over 32 characters only by its length. The entry's location (file and
    line, or record id) and column say where to read the value itself."""
    text = str(value)
    if len(text) > _SHOWN_LIMIT:
        return f"a value of {len(text)} characters"
    return "'" + "".join("9" if c.isdigit() else "a" if c.isalpha() else c for c in text) + "'"


_SHOWN_LIMIT = 32


@dataclass(frozen=True, slots=True)
class Rejected:
    """A source record that could not become a domain record; it goes to quarantine."""

    stream: str
    record_key: str
    location: str  # e.g. "hris/people.csv:17" or "Coaching_Report_vod__c a1C..."
    reason: str
    # True when not even the record's id could be read (`record_key` is then its file:line):
    # a snapshot with such a line cannot tell which record it lost, so it deletes nothing
    unidentified: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A source record read and deliberately not used, as the config says (e.g. an LMS status
    mapped to `ignore`, such as "In Progress"): not stored, not quarantined; it counts among
    the source's used lines (data lines = used + quarantined)."""

    stream: str
    record_key: str
    reason: str
    location: str | None = field(default=None, compare=False)


DeletedKind = Literal["person", "completion", "observation", "action", "interaction"]


@dataclass(frozen=True, slots=True)
class Deleted:
    """A tombstone: the source deleted this record. Its statements are voided.

    For a person (`record_id` = hr_id) the person is closed as terminated from `on`.
    """

    kind: DeletedKind
    record_id: str
    on: date | None = None
    location: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Everything yielded before this is complete up to `cursor`; it may be committed."""

    stream: str
    cursor: str


@dataclass(frozen=True, slots=True)
class Stopped:
    """The stream stopped early on purpose (e.g. the vendor's API budget ran out) and the next
    run resumes from its last checkpoint: this run's data from it is not complete."""

    stream: str
    reason: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything yielded for `stream` since its read began is the whole truth (a snapshot file
    read to the end, a full read of a Salesforce object): the records of the stream's
    `snapshot_kinds` that it did not name are deleted when the Checkpoint that follows is
    committed.

    `keys`: the keys the source holds, listed apart from the records read (a full read that
    spanned several runs lists the object's ids when it completes); they count as named too.
    `key_prefix`: only stored records whose key starts with it are compared (a Salesforce
    object's key prefix, when two streams yield the same kind of record)."""

    stream: str
    keys: frozenset[str] | None = None
    key_prefix: str = ""


Item = Record | Deleted | Rejected | Skipped | Checkpoint | Stopped | Snapshot


# --- LMS transcript write-back ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranscriptRecord:
    """One "Field-observed: <capability>" record for a learner's LMS transcript.

    `key` is the idempotency key (hr_id/capability/state): a connector embeds it in what it
    writes (an external id, an idnumber, a description) so that before writing it can tell
    whether an earlier attempt already landed, even one whose answer was lost in a crash.
    """

    key: str
    hr_id: str
    lms_user_id: str  # the learner's id in this LMS (from identity resolution)
    capability_id: str
    capability_name: str
    state: Literal["adopted", "sustained"]
    observed_on: date  # the visit date of the rating that reached the state

    @property
    def title(self) -> str:
        return f"Field-observed: {self.capability_name}"


WriteBackStatus = Literal["written", "already-present", "would-write", "failed"]


@dataclass(frozen=True, slots=True)
class WriteBackResult:
    key: str
    status: WriteBackStatus
    external_id: str | None  # what the LMS calls the record, when it says
    detail: str  # the LMS's answer, shortened; never personal data beyond ids
