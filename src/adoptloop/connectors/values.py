"""Value parsers every connector uses: dates, date-times and numbers, with errors that name the
column or field (`BadValue`: the record is quarantined with that reason)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime


class BadValue(ValueError):
    """A value that cannot be parsed or is missing; the message names the column or field."""


def parse_date(value: str, column: str) -> date:
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{column}: {value!r} is not a date (YYYY-MM-DD)") from None


def optional_date(value: str, column: str) -> date | None:
    return parse_date(value, column) if value else None


def parse_datetime(value: str, column: str) -> datetime:
    """ISO 8601 with a zone (Z, +00:00 or Salesforce's +0000); a naive value is taken as UTC."""
    text = value.strip()
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(f"{column}: {value!r} is not an ISO 8601 date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def optional_datetime(value: str, column: str) -> datetime | None:
    return parse_datetime(value, column) if value else None


def parse_number(value: str, column: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadValue(f"{column}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadValue(f"{column}: {value!r} is not a finite number")
    return number
