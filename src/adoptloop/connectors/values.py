"""Value parsers every connector uses: dates, date-times and numbers, with errors that name the
column or field (`BadValue`: the record is quarantined with that reason)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from adoptloop.domain import shown


class BadValue(ValueError):
    """A value that cannot be parsed or is missing; the message names the column or field."""


def parse_date(value: str, column: str) -> date:
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{column}: {shown(value)} is not a date (YYYY-MM-DD)") from None


def optional_date(value: str, column: str) -> date | None:
    return parse_date(value, column) if value else None


def parse_datetime(value: str, column: str) -> datetime:
    """ISO 8601 with a zone (Z, +00:00 or Salesforce's +0000); a naive value is taken as UTC."""
    text = value.strip()
    if len(text) > 10 and text[10] not in "Tt ":  # Python takes any separator; ISO does not
        raise BadValue(f"{column}: {shown(value)} is not an ISO 8601 date-time")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(f"{column}: {shown(value)} is not an ISO 8601 date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def optional_datetime(value: str, column: str) -> datetime | None:
    return parse_datetime(value, column) if value else None


def parse_number(value: str, column: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadValue(f"{column}: {shown(value)} is not a number") from None
    if not math.isfinite(number):
        raise BadValue(f"{column}: {shown(value)} is not a finite number")
    return number


Decimal = Literal[".", ","]


@dataclass(frozen=True, slots=True)
class ValueFormat:
    """How one file writes its dates and numbers (`date_format`, `decimal` of its entry).

    Without a `date_format`, dates and date-times are ISO 8601 (as `parse_date` and
    `parse_datetime`). With one, a date must follow it, and a date-time is ISO 8601 or the
    format followed by ` %H:%M:%S` or ` %H:%M` (naive, taken as UTC), or the format alone
    (midnight UTC). With `decimal: ","`, "4,5" is 4.5 and a value with a dot is refused: the
    dot may be a thousands separator.
    """

    date_format: str | None = None
    decimal: Decimal = "."

    def parse_date(self, value: str, column: str) -> date:
        if self.date_format is None:
            return parse_date(value, column)
        try:
            return datetime.strptime(value, self.date_format).date()  # noqa: DTZ007 - a date
        except ValueError:
            raise BadValue(f"{column}: {shown(value)} is not a date ({self.date_format})") from None

    def optional_date(self, value: str, column: str) -> date | None:
        return self.parse_date(value, column) if value else None

    def parse_datetime(self, value: str, column: str) -> datetime:
        if self.date_format is None:
            return parse_datetime(value, column)
        try:
            return parse_datetime(value, column)
        except BadValue:
            pass
        for suffix in (" %H:%M:%S", " %H:%M", ""):
            try:
                moment = datetime.strptime(value, self.date_format + suffix)  # noqa: DTZ007
            except ValueError:
                continue
            return moment.replace(tzinfo=UTC)
        raise BadValue(
            f"{column}: {shown(value)} is not a date-time ({self.date_format} [%H:%M[:%S]] or ISO 8601)"
        ) from None

    def optional_datetime(self, value: str, column: str) -> datetime | None:
        return self.parse_datetime(value, column) if value else None

    def parse_number(self, value: str, column: str) -> float:
        if self.decimal == ".":
            return parse_number(value, column)
        if "." in value:
            raise BadValue(f"{column}: {shown(value)} is not a number with a decimal comma")
        return parse_number(value.replace(",", "."), column)


def not_after(day: date, today: date, column: str, *, slack_days: int = 0) -> date:
    """A date that must not lie in the future (after the run date, plus `slack_days` for local
    dates of zones ahead of UTC); a later one is a row defect."""
    if (day - today).days > slack_days:
        raise BadValue(f"{column}: {day.isoformat()} is in the future (the run date is {today})")
    return day


def moment_not_after(moment: datetime, today: date, column: str) -> datetime:
    """A date-time whose UTC date must not be after the run date."""
    if moment.astimezone(UTC).date() > today:
        raise BadValue(f"{column}: {moment.isoformat()} is in the future (the run date is {today})")
    return moment
