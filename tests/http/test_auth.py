"""OAuth 2.0 client credentials: a token reused until shortly before it expires, renewed once on
401, and a refusal that is an auth failure without the secret in its message; and the auth a
config section with basic or OAuth 2.0 credentials gets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from adoptloop.http.auth import OAuth2ClientCredentials, basic_or_client_credentials
from adoptloop.http.client import AuthFailed, RestClient
from adoptloop.testing.fake_api import FakeApi, json_response, status_response
from adoptloop.testing.kit import RecordingSleep


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def oauth_api(tokens_given: list[str], valid: set[str]) -> FakeApi:
    """A token endpoint (HTTP Basic client auth, form body) and an API taking valid tokens."""
    api = FakeApi()
    numbers = itertools.count(1)

    def token(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"].startswith("Basic ")
        assert b"grant_type=client_credentials" in request.content
        value = f"t{next(numbers)}"
        tokens_given.append(value)
        valid.add(value)
        return json_response({"access_token": value, "expires_in": 600})

    def data(request: httpx.Request) -> httpx.Response:
        presented = request.headers["Authorization"].removeprefix("Bearer ")
        return json_response([]) if presented in valid else status_response(401)

    api.route("POST", "/oauth/token", token)
    api.route("GET", "/data", data)
    return api


def test_oauth_token_is_reused_until_shortly_before_it_expires() -> None:
    given: list[str] = []
    api, clock = oauth_api(given, set()), FakeClock()
    auth = OAuth2ClientCredentials(
        f"{api.base_url}/oauth/token", "client", SecretStr("secret"), clock=clock
    )
    with RestClient(api.base_url, service="Test", auth=auth, transport=api.transport()) as client:
        client.request("GET", "data")
        clock.now = 500.0  # 600 s lifetime less the 60 s margin: still good
        client.request("GET", "data")
        clock.now = 560.0
        client.request("GET", "data")
    assert given == ["t1", "t2"]


def test_oauth_token_is_renewed_once_when_the_api_answers_401() -> None:
    given: list[str] = []
    valid: set[str] = set()
    api = oauth_api(given, valid)
    auth = OAuth2ClientCredentials(f"{api.base_url}/oauth/token", "client", SecretStr("secret"))
    with RestClient(api.base_url, service="Test", auth=auth, transport=api.transport()) as client:
        client.request("GET", "data")
        valid.clear()  # revoked at the provider before it expired
        assert client.request("GET", "data").status_code == 200
    assert given == ["t1", "t2"]


def test_token_endpoint_refusal_is_an_auth_failure_that_does_not_leak_the_secret() -> None:
    api = FakeApi()
    api.route("POST", "/oauth/token", lambda _r: json_response({"error": "invalid_client"}, 401))
    auth = OAuth2ClientCredentials(f"{api.base_url}/oauth/token", "client", SecretStr("hunter22"))
    sleep = RecordingSleep()
    with (
        RestClient(
            api.base_url, service="Test", auth=auth, transport=api.transport(), sleep=sleep
        ) as client,
        pytest.raises(AuthFailed) as caught,
    ):
        client.request("GET", "data")
    assert "hunter22" not in str(caught.value)
    assert sleep.calls == []


@dataclass(frozen=True)
class Client:
    token_url: str
    client_id: str
    client_secret: SecretStr
    scope: str | None = None


@dataclass(frozen=True)
class Section:
    username: SecretStr | None = None
    password: SecretStr | None = None
    oauth2: Client | None = None


def test_a_section_with_username_and_password_authenticates_with_basic_auth() -> None:
    auth = basic_or_client_credentials(Section(SecretStr("key"), SecretStr("secret")))
    assert isinstance(auth, httpx.BasicAuth)
    request = next(auth.auth_flow(httpx.Request("GET", "https://lrs.example.test/xAPI/about")))
    assert request.headers["Authorization"] == "Basic a2V5OnNlY3JldA=="  # key:secret


def test_a_section_with_oauth2_gets_client_credentials_and_one_without_either_none() -> None:
    client = Client("https://idp.example.test/token", "adoptloop", SecretStr("s"), scope="xapi")
    auth = basic_or_client_credentials(Section(oauth2=client))
    assert isinstance(auth, OAuth2ClientCredentials)
    assert (auth.token_url, auth.client_id, auth.scope) == (
        "https://idp.example.test/token",
        "adoptloop",
        "xapi",
    )
    assert basic_or_client_credentials(Section()) is None
