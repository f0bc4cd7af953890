"""How a failed Salesforce call is handled: by its errorCode first, then by its HTTP status."""

from __future__ import annotations

import pytest

from adoptloop.connectors.crm.salesforce.client import Kind, classify


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "INVALID_SESSION_ID", Kind.SESSION),
        (403, "REQUEST_LIMIT_EXCEEDED", Kind.LIMIT),
        (400, "QUERY_TIMEOUT", Kind.QUERY_TIMEOUT),
        (400, "INVALID_QUERY_LOCATOR", Kind.LOCATOR),
        (503, "SERVER_UNAVAILABLE", Kind.RETRY),
        (400, "UNABLE_TO_LOCK_ROW", Kind.RETRY),
        (500, "INVALID_SESSION_ID", Kind.SESSION),  # the code decides before the status
    ],
)
def test_a_known_error_code_decides(status: int, code: str, kind: Kind) -> None:
    assert classify(status, code) is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (None, Kind.RETRY),  # no answer at all
        (408, Kind.RETRY),
        (425, Kind.RETRY),
        (429, Kind.RETRY),
        (500, Kind.RETRY),
        (503, Kind.RETRY),
        (401, Kind.SESSION),
        (404, Kind.NOT_FOUND),
        (400, Kind.FATAL),
        (403, Kind.FATAL),  # permissions: another login would not help
        (409, Kind.FATAL),
    ],
)
def test_without_a_known_code_the_http_status_decides(status: int | None, kind: Kind) -> None:
    assert classify(status, "SOME_OTHER_CODE") is kind
    assert classify(status, None) is kind
