"""The REST connector base: paging hooks, the client a connector builds, the payload helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import httpx
import pytest
from pydantic import SecretStr

from adoptloop import __version__
from adoptloop.connectors.rest import (
    HttpConnector,
    HttpSourceConfig,
    MalformedPage,
    RestStream,
    as_record,
    field,
    json_body,
    records_at,
    require,
    text,
)
from adoptloop.connectors.values import BadValue
from adoptloop.errors import RetriableError
from adoptloop.http.auth import BearerToken
from adoptloop.http.client import RestClient
from adoptloop.testing.fake_api import BASE_URL, json_response, text_response
from adoptloop.testing.kit import RecordingSleep, make_context

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, seen: list[httpx.Request] | None = None) -> RestClient:
    def record(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return handler(request)

    return RestClient(
        BASE_URL, service="Test", transport=httpx.MockTransport(record), sleep=RecordingSleep()
    )


class Numbered(RestStream):
    """`items?page=N`: a JSON array per page; the answer's `X-Next` header names the next page."""

    path = "items"

    def params(self, token: Any) -> dict[str, Any] | None:
        return {"page": token or 1}

    def next_page(self, response: httpx.Response, _records: Sequence[Any], _token: Any) -> Any:
        return response.headers.get("X-Next")


def test_pages_follow_the_next_token_until_there_is_none() -> None:
    pages = {"1": ([1, 2], "2"), "2": ([3], "3"), "3": ([], None)}

    def handler(request: httpx.Request) -> httpx.Response:
        records, following = pages[request.url.params["page"]]
        return json_response(records, headers={"X-Next": following} if following else None)

    with client_for(handler) as client:
        got = [(page.token, page.records) for page in Numbered(client).pages()]
    assert got == [(None, [1, 2]), ("2", [3]), ("3", [])]


def test_an_api_that_offers_the_same_page_again_is_a_malformed_page() -> None:
    with (
        client_for(lambda _r: json_response([1], headers={"X-Next": "2"})) as client,
        pytest.raises(MalformedPage, match="offered page '2' again") as caught,
    ):
        list(Numbered(client).pages())
    assert caught.value.where == "GET api.example.test/items"


def test_paging_that_never_ends_stops_at_max_pages() -> None:
    class Short(Numbered):
        max_pages: ClassVar[int] = 3

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        following = str(int(request.url.params["page"]) + 1)
        return json_response([], headers={"X-Next": following})

    with client_for(handler, seen) as client, pytest.raises(MalformedPage, match="more than 3"):
        list(Short(client).pages())
    assert len(seen) == 3


def test_params_none_keeps_the_query_of_a_next_link() -> None:
    class Linked(RestStream):
        path = "items"

        def url(self, token: Any) -> str:
            return self.path if token is None else str(token)

        def params(self, token: Any) -> dict[str, Any] | None:
            return {"limit": "2"} if token is None else None

        def next_page(self, response: httpx.Response, _r: Sequence[Any], _t: Any) -> Any:
            return None if "cursor" in response.request.url.params else "items?cursor=abc"

    seen: list[httpx.Request] = []
    with client_for(lambda _r: json_response([]), seen) as client:
        list(Linked(client).pages())
    assert [dict(r.url.params) for r in seen] == [{"limit": "2"}, {"cursor": "abc"}]


def test_validate_response_sees_every_answer_and_its_error_stops_the_stream() -> None:
    class Checked(RestStream):
        path = "items"

        def validate_response(self, response: httpx.Response) -> None:
            if b"exception" in response.content:
                raise MalformedPage("the API reported an exception in a 200")

    with (
        client_for(lambda _r: json_response({"exception": "invalidtoken"})) as client,
        pytest.raises(MalformedPage, match="exception in a 200"),
    ):
        list(Checked(client).pages())


def test_the_default_page_must_be_a_json_array() -> None:
    with (
        client_for(lambda _r: json_response({"items": []})) as client,
        pytest.raises(MalformedPage, match="expected a JSON array"),
    ):
        list(RestStream(client).pages())


def test_an_answer_that_is_not_json_names_its_content_type_and_size() -> None:
    response = text_response("<html>maintenance</html>")
    response.request = httpx.Request("GET", f"{BASE_URL}/items?token=secret")
    with pytest.raises(MalformedPage) as caught:
        json_body(response)
    assert str(caught.value) == "the answer is not JSON (text/html, 24 bytes)"
    assert caught.value.where == "GET api.example.test/items"


def answer(body: Any) -> httpx.Response:
    response = json_response(body)
    response.request = httpx.Request("GET", f"{BASE_URL}/users")
    return response


def test_records_at_finds_the_array_at_a_path() -> None:
    body = {"data": {"items": [{"id": 1}]}, "none": {"items": None}, "odd": {"items": {}}}
    assert records_at(answer(body), body, "data", "items") == [{"id": 1}]
    assert records_at(answer(body), body, "none", "items") == []
    with pytest.raises(MalformedPage, match=r"the answer has no data\.rows array"):
        records_at(answer(body), body, "data", "rows")
    with pytest.raises(MalformedPage, match=r"odd\.items is not an array"):
        records_at(answer(body), body, "odd", "items")


def test_field_text_and_require_read_nested_scalars() -> None:
    raw = {"user": {"email": " a@example.test ", "active": True, "tags": ["x"]}, "n": 7}
    assert field(raw, "user", "email") == " a@example.test "
    assert field(raw, "user", "missing", "deeper") is None
    assert text(raw, "user", "email") == "a@example.test"
    assert text(raw, "user", "active") == "true"
    assert text(raw, "user", "tags") == ""
    assert text(raw, "n") == "7"
    assert require(raw, "user", "email") == "a@example.test"
    with pytest.raises(BadValue, match=r"user\.name is missing"):
        require(raw, "user", "name")


def test_a_record_must_be_a_json_object() -> None:
    assert as_record({"id": 1}) == {"id": 1}
    with pytest.raises(BadValue, match="a record must be a JSON object, got list"):
        as_record([1])


class TokenConfig(HttpSourceConfig):
    type: Literal["token-api"]


class TokenConnector(HttpConnector[TokenConfig]):
    type_name = "token-api"
    family = "lms"
    config_class = TokenConfig
    service = "Token API"
    auth_built = 0

    def auth(self) -> httpx.Auth:
        self.auth_built += 1
        return BearerToken(SecretStr("t0ken"))


def test_a_connectors_client_carries_its_auth_headers_and_bounds() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response([]) if request.url.path == "/ping" else json_response({}, 503)

    config = TokenConfig(type="token-api", base_url=BASE_URL, max_attempts=2)
    sleep = RecordingSleep()
    connector = TokenConnector(
        config, make_context(), transport=httpx.MockTransport(handler), sleep=sleep
    )
    for _ in range(2):
        with connector.client() as client:
            client.request("GET", "ping")
    assert connector.auth_built == 1  # built once per connector, so a token is reused
    assert seen[0].headers["Authorization"] == "Bearer t0ken"
    assert seen[0].headers["Accept"] == "application/json"
    assert seen[0].headers["User-Agent"] == f"adoptloop/{__version__}"
    assert str(seen[0].url) == f"{BASE_URL}/ping"
    with (
        connector.client() as client,
        pytest.raises(RetriableError, match=r"Token API \(source\) answered HTTP 503"),
    ):
        client.request("GET", "busy")
    assert len(sleep.calls) == 1  # max_attempts=2: one wait between the two tries
