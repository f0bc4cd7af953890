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
    # isoformat writes the year with four digits (not strftime("%Y"): "999" for year 999) and
    # cuts the microseconds to milliseconds; several times faster than formatting the fields
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def local_noon(day: date, timezone: str) -> str:
    """A local calendar day as an instant on the same date in UTC: noon in its timezone.

    Where the offset exceeds 12 h (New Zealand in summer is +13:00, Kiribati +14:00) local
    noon falls on the previous UTC date, so it is moved to the nearest end of the UTC day
    (00:00:00.000Z is 13:00 local at +13:00): still within the local day, and the UTC date
    always matches the local date.
    """
    noon = datetime.combine(day, time(12), tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    first = datetime.combine(day, time(0), tzinfo=UTC)
    last = datetime.combine(day, time(23, 59, 59, 999_000), tzinfo=UTC)
    return timestamp(min(max(noon, first), last))
