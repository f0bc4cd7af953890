"""HTTP status classification for every outbound call, in one place (and Retry-After)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from enum import Enum

import httpx

MAX_RETRY_AFTER = 300.0


class Outcome(Enum):
    OK = "ok"
    CONFLICT = "conflict"  # 409
    TOO_LARGE = "too_large"  # 413
    BAD_REQUEST = "bad_request"  # 400/422: the content was rejected
    AUTH = "auth"  # 401/403: credentials or permissions; not retried
    RETRY = "retry"  # 408/425/429/5xx: transient
    FATAL = "fatal"  # anything else


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.OK
    if status == 409:
        return Outcome.CONFLICT
    if status == 413:
        return Outcome.TOO_LARGE
    if status in (400, 422):
        return Outcome.BAD_REQUEST
    if status in (401, 403):
        return Outcome.AUTH
    if status in (408, 425, 429) or status >= 500:
        return Outcome.RETRY
    return Outcome.FATAL


def retry_after(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(delta, MAX_RETRY_AFTER))
