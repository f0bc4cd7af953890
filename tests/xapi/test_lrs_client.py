"""The LRS client's answers to each status, faked at the HTTP transport, built from the
settings by `pipeline.deliver.lrs_client` (basic auth or OAuth 2.0 client credentials)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from adoptloop.errors import FatalSyncError, RetriableError
from adoptloop.fields import LRSSettings, Resolved
from adoptloop.pipeline.deliver import lrs_client
from adoptloop.xapi.lrs import LRSClient, Outgoing

Handler = Callable[[httpx.Request], httpx.Response]


def settings(**overrides: object) -> LRSSettings:
    values: dict[str, object] = {
        "endpoint": "https://lrs.example.com/xAPI/",
        "username": Resolved("key"),
        "password": Resolved("secret"),
        "max_retry_seconds": 5,
    }
    values.update(overrides)
    return LRSSettings.model_validate(values)


def statement(n: int) -> Outgoing:
    sid = f"00000000-0000-4000-8000-{n:012d}"
    return Outgoing(sid, json.dumps({"id": sid, "n": n}, separators=(",", ":")).encode())


def client(handler: Handler, sleeps: list[float] | None = None, **overrides: object) -> LRSClient:
    record = sleeps if sleeps is not None else []
    return lrs_client(
        settings(**overrides), "1.0.3", transport=httpx.MockTransport(handler), sleep=record.append
    )


def ids_in(request: httpx.Request) -> list[str]:
    return [s["id"] for s in json.loads(request.content)]


def test_batch_is_posted_as_one_array_with_version_header_and_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ids_in(request))

    result = client(handler).send([statement(1), statement(2)])
    assert result.stored == [statement(1).statement_id, statement(2).statement_id]
    request = seen[0]
    assert request.url.path == "/xAPI/statements"
    assert request.headers["X-Experience-API-Version"] == "1.0.3"
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.content == b"[" + statement(1).payload + b"," + statement(2).payload + b"]"


def test_one_bad_statement_is_bisected_out_and_the_rest_delivered() -> None:
    bad = statement(3).statement_id

    def handler(request: httpx.Request) -> httpx.Response:
        ids = ids_in(request)
        if bad in ids:
            return httpx.Response(
                400, json={"warnings": [f"Problem in 'statements.{ids.index(bad)}.verb'"]}
            )
        return httpx.Response(200, json=ids)

    result = client(handler).send([statement(n) for n in range(1, 7)])
    assert sorted(result.stored) == sorted(statement(n).statement_id for n in (1, 2, 4, 5, 6))
    assert [sid for sid, _ in result.rejected] == [bad]
    assert "HTTP 400" in result.rejected[0][1]


def test_413_splits_the_batch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        ids = ids_in(request)
        return httpx.Response(413) if len(ids) > 2 else httpx.Response(200, json=ids)

    result = client(handler).send([statement(n) for n in range(8)])
    assert len(result.stored) == 8
    assert result.rejected == []


def test_409_with_identical_stored_copy_counts_as_stored() -> None:
    one = statement(1)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"message": "conflicting"})
        stored = {
            **json.loads(one.payload),
            "stored": "2026-01-01T00:00:00.000Z",
            "version": "1.0.0",
        }
        return httpx.Response(200, json=stored)

    result = client(handler).send([one])
    assert result.stored == [one.statement_id]


def test_409_with_different_stored_copy_is_rejected_as_conflict_and_not_retried() -> None:
    one = statement(1)
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            return httpx.Response(409)
        return httpx.Response(200, json={"id": one.statement_id, "n": 999})

    result = client(handler).send([one])
    assert result.stored == []
    assert result.rejected[0][1].startswith("conflict")
    assert posts == 1


def test_503_is_retried_honouring_retry_after_then_succeeds() -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(429)])
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or httpx.Response(200, json=ids_in(request))

    result = client(handler, sleeps).send([statement(1)])
    assert result.stored == [statement(1).statement_id]
    assert sleeps[0] == 7
    assert len(sleeps) == 2


def test_connection_errors_give_up_after_the_retry_budget_with_a_retriable_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sleeps: list[float] = []
    with pytest.raises(RetriableError, match="unreachable"):
        client(handler, sleeps, max_retry_seconds=0.2).send([statement(1)])


def test_bad_credentials_are_fatal_and_never_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(401, json={"message": "Unauthorised"})

    with pytest.raises(FatalSyncError, match="credentials"):
        client(handler).send([statement(1)])
    assert calls == 1


def test_secret_values_never_appear_in_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "nope"})

    with pytest.raises(FatalSyncError) as caught:
        client(handler, password=Resolved("sup3r-s3cret-value")).send([statement(1)])
    assert "sup3r-s3cret-value" not in str(caught.value)


def test_oauth2_client_credentials_fetches_a_token_once_and_sends_it_as_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "tok-123", "expires_in": 3600})
        return httpx.Response(200, json=ids_in(request))

    oauth = {
        "token_url": "https://auth.example.com/oauth/token",
        "client_id": "adoptloop",
        "client_secret": Resolved("client-secret"),
    }
    lrs = client(handler, username=None, password=None, oauth2=oauth)
    lrs.send([statement(1)])
    lrs.send([statement(2)])
    token_calls = [r for r in seen if r.url.path == "/oauth/token"]
    posts = [r for r in seen if r.url.path == "/xAPI/statements"]
    assert len(token_calls) == 1
    assert b"grant_type=client_credentials" in token_calls[0].content
    assert all(r.headers["Authorization"] == "Bearer tok-123" for r in posts)
    assert len(posts) == 2


def test_basic_and_oauth2_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        settings(
            oauth2={
                "token_url": "https://auth.example.com/t",
                "client_id": "x",
                "client_secret": Resolved("y"),
            }
        )
