"""OAuth 2.0 client credentials: a token reused until shortly before it expires, renewed once on
401, and a refusal that is an auth failure without the secret in its message; and the auth a
config section with basic or OAuth 2.0 credentials gets."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from pydantic import SecretStr

from adoptloop.http.auth import (
    OAuth2ClientCredentials,
    OAuth2JwtBearer,
    basic_or_client_credentials,
)
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


# --------------------------------------------------------------------------- JWT bearer


def jwt_api(public_key: Any, claims_seen: list[dict[str, object]], valid: set[str]) -> FakeApi:
    """A token endpoint that verifies the RFC 7523 assertion with the public key."""

    api = FakeApi()
    numbers = itertools.count(1)

    def token(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        assert "Authorization" not in request.headers  # the assertion is the credential
        try:
            claims = jwt.decode(
                form["assertion"],
                public_key,
                algorithms=["RS256"],
                audience="https://login.example",
            )
        except jwt.PyJWTError:
            return json_response({"error": "invalid_grant"}, 400)
        claims_seen.append(claims)
        value = f"j{next(numbers)}"
        valid.add(value)
        return json_response({"access_token": value, "instance_url": "https://x.example"})

    def data(request: httpx.Request) -> httpx.Response:
        presented = request.headers["Authorization"].removeprefix("Bearer ")
        return json_response([]) if presented in valid else status_response(401)

    api.route("POST", "/services/oauth2/token", token)
    api.route("GET", "/data", data)
    return api


def test_jwt_bearer_sends_a_signed_assertion_and_reuses_the_token(
    rsa_key: tuple[str, Any],
) -> None:
    private, public = rsa_key
    now = float(int(time.time()))  # the endpoint checks iat and exp against the real clock
    seen: list[dict[str, object]] = []
    valid: set[str] = set()
    api = jwt_api(public, seen, valid)
    auth = OAuth2JwtBearer(
        f"{api.base_url}/services/oauth2/token",
        "consumer-key",
        SecretStr(private),
        subject="integration@acme.example",
        audience="https://login.example",
        wall_clock=lambda: now,
    )
    with RestClient(api.base_url, service="Test", auth=auth, transport=api.transport()) as client:
        client.request("GET", "data")
        client.request("GET", "data")  # the token is reused: no second assertion
        valid.clear()  # revoked: one new assertion, one new token
        assert client.request("GET", "data").status_code == 200
    assert len(seen) == 2
    assert seen[0] == {
        "iss": "consumer-key",
        "sub": "integration@acme.example",
        "aud": "https://login.example",
        "iat": int(now),
        "exp": int(now) + 180,
    }


def test_jwt_bearer_refused_or_unsignable_is_an_auth_failure_without_the_key(
    rsa_key: tuple[str, Any],
) -> None:
    private, _public = rsa_key
    api = jwt_api(rsa_key[1], [], set())
    wrong_audience = OAuth2JwtBearer(
        f"{api.base_url}/services/oauth2/token",
        "consumer-key",
        SecretStr(private),
        subject="integration@acme.example",
        audience="https://elsewhere.example",
    )
    with (
        RestClient(
            api.base_url, service="Test", auth=wrong_audience, transport=api.transport()
        ) as client,
        pytest.raises(AuthFailed, match="certificate") as refused,
    ):
        client.request("GET", "data")
    assert "PRIVATE KEY" not in str(refused.value)

    not_a_key = OAuth2JwtBearer(
        f"{api.base_url}/services/oauth2/token",
        "consumer-key",
        SecretStr("-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----"),
        subject="integration@acme.example",
        audience="https://login.example",
    )
    with (
        RestClient(api.base_url, service="Test", auth=not_a_key, transport=api.transport()) as c,
        pytest.raises(AuthFailed, match="not a usable PEM key") as unsignable,
    ):
        c.request("GET", "data")
    assert "not-a-key" not in str(unsignable.value)
