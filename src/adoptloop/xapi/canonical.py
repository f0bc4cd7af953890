"""Canonical JSON: the same statement always serializes to the same bytes.

Keys sorted, no insignificant whitespace, floats in shortest round-trip form (orjson).
Timestamps are formatted here too: UTC, `Z`, milliseconds.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import orjson


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def digest(obj: Any) -> str:
    return hashlib.blake2b(dumps(obj), digest_size=16).hexdigest()


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and Z; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def local_noon(day: date, timezone: str) -> str:
    """A local calendar day as an instant: noon in its timezone, so the UTC date matches."""
    return timestamp(datetime.combine(day, time(12), tzinfo=ZoneInfo(timezone)))
