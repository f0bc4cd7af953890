"""`httpx.Auth` flows: a static bearer token, OAuth 2.0 client credentials and the OAuth 2.0
JWT bearer grant.

`basic_or_client_credentials` turns a config section with `username`/`password` or an
`oauth2` block (the LRS's, wherever it is declared) into the auth of its client.

`OAuth2ClientCredentials` fetches a token, reuses it until shortly before it expires and
fetches a new one once when the API answers 401. Vendors whose token endpoint differs
override `token_request` (and `parse_token` for unusual answers). Tokens never appear in a
message.

`OAuth2JwtBearer` (RFC 7523 2.1) is the same token life with a signed assertion instead of a
client secret: the assertion is signed with PyJWT (RS256 by default), lives a few minutes, and
a new one is signed for every token request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any, ClassVar, Protocol

import httpx
import jwt
import orjson
from pydantic import SecretStr

from adoptloop.errors import FatalSyncError, RetriableError
from adoptloop.http.client import AuthFailed
from adoptloop.http.status import Outcome, classify, retry_after

Clock = Callable[[], float]


class BearerToken(httpx.Auth):
    """A static bearer token (SCIM, Docebo API tokens)."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request


class OAuth2ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials (RFC 6749 4.4) with token reuse and refresh.

    The default token request is the RFC's: a form body `grant_type=client_credentials`
    (plus `scope`) with the client id and secret as HTTP Basic. Override `token_request` for
    vendors that want JSON, and `parse_token` for unusual answers.
    """

    requires_response_body = True
    refresh_margin_seconds: ClassVar[float] = 60.0
    refusal_hint: ClassVar[str] = "check the client id, secret and scope"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        scope: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def token_request(self) -> httpx.Request:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        request = httpx.Request("POST", self.token_url, data=data)
        basic = httpx.BasicAuth(self.client_id, self.client_secret.get_secret_value())
        return next(basic.auth_flow(request))

    def parse_token(self, body: Any) -> tuple[str, float]:
        """(access token, lifetime in seconds) from the token endpoint's JSON answer."""
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise FatalSyncError(f"the token endpoint {self.token_url} answered no access_token")
        lifetime = body.get("expires_in", 3600)
        return body["access_token"], float(lifetime) if isinstance(lifetime, int | float) else 3600

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fetched_now = False
        if not self._valid():
            self._store((yield self.token_request()))
            fetched_now = True
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED and not fetched_now:
            # the token was revoked or expired early: one new token, one more try
            self._store((yield self.token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _store(self, response: httpx.Response) -> None:
        outcome = classify(response.status_code)
        if outcome is Outcome.RETRY:
            raise RetriableError(
                f"token endpoint answered HTTP {response.status_code}",
                retry_after=retry_after(response),
            )
        if outcome is not Outcome.OK:
            raise AuthFailed(
                f"the token endpoint {self.token_url} refused client {self.client_id!r} "
                f"(HTTP {response.status_code}); {self.refusal_hint}"
            )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise FatalSyncError(f"the token endpoint {self.token_url} answered no JSON") from None
        token, lifetime = self.parse_token(body)
        self._token = token
        self._expires_at = self._clock() + max(0.0, lifetime - self.refresh_margin_seconds)


JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuth2JwtBearer(OAuth2ClientCredentials):
    """OAuth 2.0 JWT bearer grant (RFC 7523 2.1): a token for a signed assertion.

    The assertion says who asks (`iss`, the client id), for whom (`sub`, e.g. the integration
    user), to whom (`aud`, the authorization server) and until when (`exp`, `lifetime_seconds`
    from now by the wall clock); it is signed with `private_key` (PEM). Tokens are reused and
    refreshed exactly like client credentials' tokens.
    """

    assertion_seconds: ClassVar[int] = 180
    refusal_hint: ClassVar[str] = (
        "check the client id, that the token endpoint knows the signing key's certificate, "
        "and that the subject may use this client"
    )

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key: SecretStr,
        *,
        subject: str,
        audience: str,
        algorithm: str = "RS256",
        scope: str | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        super().__init__(token_url, client_id, SecretStr(""), scope=scope, clock=clock)
        self.private_key = private_key
        self.subject = subject
        self.audience = audience
        self.algorithm = algorithm
        self._wall_clock = wall_clock

    def assertion(self) -> str:
        now = int(self._wall_clock())
        claims = {
            "iss": self.client_id,
            "sub": self.subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.assertion_seconds,
        }
        try:
            return jwt.encode(claims, self.private_key.get_secret_value(), self.algorithm)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            # the key never appears in the message, only what kind of problem it has
            raise AuthFailed(
                f"cannot sign the JWT assertion for client {self.client_id!r} with "
                f"{self.algorithm}: the private key is not a usable PEM key "
                f"({exc.__class__.__name__})"
            ) from None

    def token_request(self) -> httpx.Request:
        data = {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()}
        if self.scope:
            data["scope"] = self.scope
        return httpx.Request("POST", self.token_url, data=data)


class ClientCredentials(Protocol):
    """An `oauth2:` config block: where to get a token, and as whom."""

    @property
    def token_url(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def client_secret(self) -> SecretStr: ...
    @property
    def scope(self) -> str | None: ...


class Credentials(Protocol):
    """A config section that authenticates with basic auth or OAuth 2.0 client credentials."""

    @property
    def username(self) -> SecretStr | None: ...
    @property
    def password(self) -> SecretStr | None: ...
    @property
    def oauth2(self) -> ClientCredentials | None: ...


def basic_or_client_credentials(credentials: Credentials) -> httpx.Auth | None:
    """HTTP Basic when username and password are set, else OAuth 2.0 if configured, else none."""
    if credentials.username is not None and credentials.password is not None:
        return httpx.BasicAuth(
            credentials.username.get_secret_value(), credentials.password.get_secret_value()
        )
    oauth = credentials.oauth2
    if oauth is not None:
        return OAuth2ClientCredentials(
            oauth.token_url, oauth.client_id, oauth.client_secret, scope=oauth.scope
        )
    return None
