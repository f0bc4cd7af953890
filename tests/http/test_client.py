"""RestClient: retries bounded by attempts and waiting, and messages that never carry a secret."""

from __future__ import annotations

import itertools

import httpx
import pytest

from adoptloop.errors import FatalSyncError, RetriableError
from adoptloop.http.client import RestClient
from adoptloop.testing.fake_api import json_response, status_response
from adoptloop.testing.kit import RecordingSleep


def test_connect_errors_are_retried_then_the_request_succeeds() -> None:
    attempts = itertools.count(1)

    def flaky(request: httpx.Request) -> httpx.Response:
        if next(attempts) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return json_response([1, 2])

    sleep = RecordingSleep()
    with RestClient(
        "https://api.example.test",
        service="Test",
        transport=httpx.MockTransport(flaky),
        sleep=sleep,
    ) as client:
        assert client.request("GET", "x").json() == [1, 2]
    assert len(sleep.calls) == 2


def test_retries_stop_when_the_next_wait_would_pass_max_retry_seconds() -> None:
    sleep = RecordingSleep()
    transport = httpx.MockTransport(lambda _r: status_response(429, retry_after=200))
    with (
        RestClient(
            "https://api.example.test",
            service="Test",
            transport=transport,
            sleep=sleep,
            max_attempts=10,
            max_retry_seconds=300,
        ) as client,
        pytest.raises(RetriableError),
    ):
        client.request("GET", "x")
    assert sleep.calls == [200.0]  # a second 200 s wait would pass the 300 s budget


def test_error_messages_name_the_path_never_the_query_string_or_body() -> None:
    transport = httpx.MockTransport(lambda _r: json_response({"error": "gone"}, 404))
    with (
        RestClient("https://api.example.test", service="Test", transport=transport) as client,
        pytest.raises(FatalSyncError) as caught,
    ):
        client.request("GET", "users", params={"wstoken": "s3cr3t-token"})
    assert "api.example.test/users" in str(caught.value)
    assert "s3cr3t-token" not in str(caught.value)
