"""The one status classification and the Retry-After reader."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from adoptloop.http.status import MAX_RETRY_AFTER, Outcome, classify, retry_after


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (204, Outcome.OK),
        (299, Outcome.OK),
        (409, Outcome.CONFLICT),
        (413, Outcome.TOO_LARGE),
        (400, Outcome.BAD_REQUEST),
        (422, Outcome.BAD_REQUEST),
        (401, Outcome.AUTH),
        (403, Outcome.AUTH),
        (408, Outcome.RETRY),
        (425, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (599, Outcome.RETRY),
        (301, Outcome.FATAL),
        (304, Outcome.FATAL),
        (404, Outcome.FATAL),
        (405, Outcome.FATAL),
        (410, Outcome.FATAL),
        (199, Outcome.FATAL),
    ],
)
def test_each_status_has_one_outcome(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


def answer(retry_after_value: str | None) -> httpx.Response:
    headers = {} if retry_after_value is None else {"Retry-After": retry_after_value}
    return httpx.Response(503, headers=headers)


def test_retry_after_in_seconds_is_read_as_given() -> None:
    assert retry_after(answer("7")) == 7.0
    assert retry_after(answer(" 12 ")) == 12.0


def test_retry_after_as_an_http_date_is_the_time_left_until_then() -> None:
    now = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    assert retry_after(answer("Mon, 02 Mar 2026 10:00:45 GMT"), now=now) == 45.0


def test_retry_after_in_the_past_means_no_wait() -> None:
    now = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    assert retry_after(answer("Mon, 02 Mar 2026 09:59:00 GMT"), now=now) == 0.0


def test_retry_after_is_capped_in_both_forms() -> None:
    now = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    assert retry_after(answer("86400")) == MAX_RETRY_AFTER
    assert retry_after(answer("Tue, 03 Mar 2026 10:00:00 GMT"), now=now) == MAX_RETRY_AFTER


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
def test_a_missing_or_unreadable_retry_after_is_none(value: str | None) -> None:
    assert retry_after(answer(value)) is None
