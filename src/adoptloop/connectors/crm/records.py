"""CRM rows -> domain records: what the Salesforce and Vault CRM connectors share.

Both read the same Veeva data model under different names, so one coaching report gives the
same record, and so the same statements, from either CRM. Here live the parts that do not
depend on how a CRM names or encodes its fields: the quarantine exception (`BadRow`), date-times
and local dates, ratings scaled through the capability map, free text reduced to a word count
and a capability mention (the text itself never leaves this module), and a survey coaching
report (a target row and its answer rows) turned into one `CoachingObservation`. How a row's
field is read (`RowReader`) is each connector's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from adoptloop.connectors.base import ConnectorContext
from adoptloop.domain import CoachingObservation, PersonRef, Rating, Rejected, shown
from adoptloop.mappings.capability_map import CapabilityMap, OutOfScaleError

Row = dict[str, Any]

_LEADING_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)\b")


class BadRow(Exception):
    """A row that cannot become a domain record; the message is the quarantine reason."""


def parse_ts(value: str) -> datetime:
    """A CRM dateTime ('2024-01-02T10:00:00.000+0000', '...+00:00' or '...Z') as aware UTC; a
    naive one is taken as UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def local_date(raw: str, zone: str, field: str) -> date:
    """A date field as is; a dateTime as the local date in `zone`."""
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        return parse_ts(raw).astimezone(ZoneInfo(zone)).date()
    except ValueError:
        raise BadRow(f"{field}: {shown(raw)} is not a date") from None


def rating_number(raw: Any, item: str, labels: Mapping[str, float]) -> float:
    """A rating as a number: numeric fields as they are, picklist labels through `labels`."""
    if isinstance(raw, bool):
        raise BadRow(f"rating {shown(raw)} for {item} is not a number")
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    if text in labels:
        return float(labels[text])
    match = _LEADING_NUMBER.match(text)  # "4", "4.0", "4 - Exceeds expectations"
    if match:
        return float(match.group(1))
    raise BadRow(f"rating {shown(text)} for {item} is not a number; map it under rating_values")


# values a Reuse keeps of each kind, at most: a full memo starts over (its memory is bounded)
_REUSE_LIMIT = 20_000


class Reuse:
    """The immutable values a CRM read makes over and over, made once and shared: a backfill
    maps hundreds of thousands of rows that name a few thousand users and give a few dozen
    distinct ratings. One per mapper (its rating labels); the records are equal to freshly
    made ones, and only cost less to make."""

    def __init__(self, system: str) -> None:
        self.system = system
        self._people: dict[str, PersonRef] = {}
        self._ratings: dict[tuple[str, type, Any], Rating] = {}

    def person(self, external_id: str) -> PersonRef:
        """PersonRef(system, external_id)."""
        ref = self._people.get(external_id)
        if ref is None:
            if len(self._people) >= _REUSE_LIMIT:
                self._people.clear()
            ref = self._people[external_id] = PersonRef(self.system, external_id)
        return ref

    def rating(
        self, item: str, raw: Any, capabilities: CapabilityMap, labels: Mapping[str, float]
    ) -> Rating:
        """The rating of `raw` (a number or a label) for `item`; BadRow for a value that is no
        number or is off its scale. Kept by the raw value and its type (True equals 1, and is
        no rating); a list or an object (a JSON answer) is not kept, and is no rating."""
        if not isinstance(raw, str | int | float):
            return _rated(item, raw, capabilities, labels)
        key = (item, type(raw), raw)
        rating = self._ratings.get(key)
        if rating is None:
            rating = _rated(item, raw, capabilities, labels)
            if len(self._ratings) >= _REUSE_LIMIT:
                self._ratings.clear()
            self._ratings[key] = rating
        return rating


def _rated(item: str, raw: Any, capabilities: CapabilityMap, labels: Mapping[str, float]) -> Rating:
    try:
        return capabilities.rate(item, rating_number(raw, item, labels))
    except OutOfScaleError as exc:
        raise BadRow(str(exc)) from None


def checked_ratings(
    pairs: Sequence[tuple[str, Any]],
    capabilities: CapabilityMap,
    labels: Mapping[str, float],
    reuse: Reuse,
) -> tuple[Rating, ...]:
    ratings: dict[str, Rating] = {}
    for item, raw in pairs:
        if raw is None or raw == "" or not capabilities.is_mapped_item(item):
            continue
        ratings[item] = reuse.rating(item, raw, capabilities, labels)
    return tuple(sorted(ratings.values(), key=lambda r: r.item))


def text_features(texts: Sequence[str | None], capabilities: CapabilityMap) -> tuple[int, bool]:
    """(word count, names a capability) of free text, which is then dropped."""
    joined = " ".join(t for t in texts if t)
    if not joined:
        return 0, False
    return len(joined.split()), capabilities.mentions_capability(joined)


# --- survey coaching reports ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowReader:
    """How one CRM reads its rows: `value` gives a field as stripped text (None when unset or
    not configured; BadRow when malformed), `parse_ts` its date-times; `id_field` and
    `modified_field` name the record id and last-modified fields. The rest is the same for
    both CRMs, and reasons show a bad value's shape only (quarantine keeps no free text)."""

    value: Callable[[Row, str | None], str | None]
    parse_ts: Callable[[str], datetime]
    id_field: str
    modified_field: str

    def required(self, row: Row, field: str) -> str:
        text = self.value(row, field)
        if text is None:
            raise BadRow(f"{field} is empty")
        return text

    def timestamp(self, row: Row, field: str | None) -> datetime | None:
        """A date-time field; None when unset or not configured."""
        text = self.value(row, field)
        if text is None:
            return None
        try:
            return self.parse_ts(text)
        except ValueError:
            raise BadRow(f"{field}: {shown(text)} is not a date-time") from None

    def where(self, object_name: str, row: Row) -> str:
        return f"{object_name} {row.get(self.id_field, '?')}"

    def rejected(self, stream: str, object_name: str, row: Row, exc: BadRow) -> Rejected:
        record_id = str(row.get(self.id_field, ""))
        return Rejected(stream, record_id, self.where(object_name, row), str(exc))


class TargetFields(Protocol):
    """The fields of a survey target (the coaching report) in one CRM's names."""

    @property
    def observer(self) -> str: ...
    @property
    def observed(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def submitted_at(self) -> str | None: ...
    @property
    def visit_date(self) -> str | None: ...


class AnswerFields(Protocol):
    """The fields of a question response (one answer) in one CRM's names."""

    @property
    def target(self) -> str: ...
    @property
    def question_id(self) -> str | None: ...
    @property
    def question_text(self) -> str | None: ...
    @property
    def answer_choice(self) -> str: ...
    @property
    def number(self) -> str: ...
    @property
    def text(self) -> str | None: ...


class SurveySpec(Protocol):
    """A survey coaching reports stream's configuration, as either CRM's config has it."""

    @property
    def object(self) -> str: ...
    @property
    def fields(self) -> TargetFields: ...
    @property
    def response_fields(self) -> AnswerFields: ...
    @property
    def counted_statuses(self) -> Sequence[str]: ...
    @property
    def next_step_questions(self) -> Sequence[str]: ...
    @property
    def rating_values(self) -> Mapping[str, float]: ...


def survey_fields(spec: SurveySpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The configured fields read of a survey target and of its answers."""
    t, r = spec.fields, spec.response_fields
    targets = (t.observer, t.observed, t.status, t.submitted_at, t.visit_date)
    answers = (r.target, r.question_id, r.question_text, r.answer_choice, r.number, r.text)
    return tuple(x for x in targets if x), tuple(x for x in answers if x)


def survey_observation(
    spec: SurveySpec,
    target: Row,
    answers: Sequence[Row],
    *,
    rows: RowReader,
    context: ConnectorContext,
    timezone: str,
    reuse: Reuse,
) -> CoachingObservation:
    """One survey target and its answers (in the order given: a later answer to the same item
    wins) -> one CoachingObservation. Answers are matched to the capability map by question id,
    then by question text; the visit date is the visit date field's, else the local date of
    the submission; BadRow when neither is set or a field is malformed."""
    t, r = spec.fields, spec.response_fields
    capabilities = context.capabilities
    pairs: list[tuple[str, object]] = []
    texts: list[str | None] = []
    next_step = False
    for answer in answers:
        questions = (rows.value(answer, r.question_id), rows.value(answer, r.question_text))
        item = next((q for q in questions if q and capabilities.is_mapped_item(q)), None)
        if item is not None:
            number = answer.get(r.number)
            pairs.append(
                (item, number if number is not None else rows.value(answer, r.answer_choice))
            )
        text = rows.value(answer, r.text)
        texts.append(text)
        if text and set(questions) & set(spec.next_step_questions):
            next_step = True
    submitted = rows.timestamp(target, t.submitted_at)
    raw_date = rows.value(target, t.visit_date)
    if raw_date is not None and t.visit_date:
        visit_date = local_date(raw_date, timezone, t.visit_date)
    elif submitted is not None:
        visit_date = submitted.astimezone(ZoneInfo(timezone)).date()
    else:
        raise BadRow(f"neither {t.visit_date or 'a visit date'} nor {t.submitted_at} is set")
    status = rows.required(target, t.status)
    words, names = text_features(texts, capabilities)
    return CoachingObservation(
        source_record_id=str(target[rows.id_field]),
        observer=reuse.person(rows.required(target, t.observer)),
        observed=reuse.person(rows.required(target, t.observed)),
        visit_date=visit_date,
        timezone=timezone,
        status=status,
        counted=status in spec.counted_statuses,
        submitted_at=submitted,
        modified_at=rows.timestamp(target, rows.modified_field),
        ratings=checked_ratings(pairs, capabilities, spec.rating_values, reuse),
        has_next_step=next_step,
        names_capability=names,
        word_count=words,
        location=rows.where(spec.object, target),
    )
