"""The httpx base of the REST connectors: client, auth, retries, paging hooks, payload helpers.

- `RestClient.request` retries connect errors, timeouts, 408/429/5xx (honouring Retry-After)
  with tenacity, bounded by attempts and by time; 401/403 raise `AuthFailed` at once (a retry
  cannot fix credentials); any other non-2xx raises `FatalSyncError`. Every status goes
  through `adoptloop.xapi.http_status.classify`, the one place that decides.
- Auth: `BearerToken`, `httpx.BasicAuth`, and `OAuth2ClientCredentials`, an `httpx.Auth` that
  fetches a token, reuses it until shortly before it expires and fetches a new one once when
  the API answers 401. Vendors whose token endpoint differs override `token_request`.
- `RestStream` pages through one endpoint with small hooks (`url`, `params`, `validate_response`,
  `parse_page`, `next_page`), as meltano's RESTStream does.
- Messages name the host and path only: never a query string, a body or a header, which is
  where tokens and personal data live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx
import orjson
from pydantic import Field, SecretStr
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from adoptloop import __version__
from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.connectors.values import BadValue
from adoptloop.errors import FatalSyncError, RetriableError
from adoptloop.fields import HttpURL
from adoptloop.xapi.http_status import Outcome, classify, retry_after

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Now = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuthFailed(FatalSyncError):
    """401/403: the credentials or the integration user's permissions are wrong."""


class MalformedPage(FatalSyncError):
    """A response that is not the page the API promised (not JSON, no records array)."""

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(message)
        self.where = where


def where(request: httpx.Request) -> str:
    """`METHOD host/path` of a request: safe to log (no query string, no body)."""
    return f"{request.method} {request.url.host}{request.url.path}"


# --- configuration -------------------------------------------------------------------------


class HttpSourceConfig(ConnectorConfig):
    """Fields every REST connector has; a connector's config subclasses this."""

    base_url: HttpURL = Field(description="The API's base URL, e.g. https://acme.example.com")
    timeout_seconds: float = Field(default=30.0, gt=0)
    verify_tls: bool = True
    max_attempts: int = Field(
        default=6, ge=1, le=20, description="Tries per request on network errors, 429 and 5xx"
    )
    max_retry_seconds: float = Field(
        default=600.0, gt=0, description="Give up retrying one request after this long"
    )
    page_size: int = Field(default=100, ge=1, le=1000)


# --- auth ----------------------------------------------------------------------------------


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
        self.tokens_fetched = 0

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
                f"(HTTP {response.status_code}); check the client id, secret and scope"
            )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise FatalSyncError(f"the token endpoint {self.token_url} answered no JSON") from None
        token, lifetime = self.parse_token(body)
        self._token = token
        self._expires_at = self._clock() + max(0.0, lifetime - self.refresh_margin_seconds)
        self.tokens_fetched += 1


# --- the client ----------------------------------------------------------------------------

_backoff = wait_exponential_jitter(initial=1, max=60, jitter=1)


def _wait(state: RetryCallState) -> float:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, RetriableError) and exc.retry_after is not None:
        return exc.retry_after
    return float(_backoff(state))


Validate = Callable[[httpx.Response], None]


class RestClient:
    """An httpx client with bounded retries. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        max_attempts: int = 6,
        max_retry_seconds: float = 600.0,
    ) -> None:
        self.service = service
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_retry_seconds = max_retry_seconds
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            auth=auth,
            headers={"User-Agent": f"adoptloop/{__version__}", **(headers or {})},
            timeout=timeout,
            verify=verify,
            transport=transport,
        )

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        validate: Validate | None = None,
    ) -> httpx.Response:
        """Send with retries; `accept` lists non-2xx statuses to return instead of raising.

        `validate` runs on every answer that is returned: raising RetriableError there retries
        (a vendor that reports overload inside a 200), anything else propagates.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError),
            stop=self._stop,
            wait=_wait,
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                response = self._send(
                    method, url, params=params, data=data, json=json, headers=headers
                )
                if response.status_code in accept:
                    return response
                self._check_status(response)
                if validate is not None:
                    validate(response)
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _stop(self, state: RetryCallState) -> bool:
        """Bounded by attempts, and by the time spent waiting (the next wait included)."""
        waited = state.idle_for + (state.upcoming_sleep or 0.0)
        return state.attempt_number >= self._max_attempts or waited > self._max_retry_seconds

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url.lstrip("/"), **kwargs)
        except httpx.TransportError as exc:
            raise RetriableError(
                f"{self.service} unreachable ({exc.__class__.__name__} on {method} {url})"
            ) from None

    def _check_status(self, response: httpx.Response) -> None:
        outcome = classify(response.status_code)
        status = response.status_code
        if outcome is Outcome.OK:
            return
        if outcome is Outcome.RETRY:
            raise RetriableError(
                f"{self.service} answered HTTP {status} to {where(response.request)}",
                retry_after=retry_after(response),
            )
        if outcome is Outcome.AUTH:
            raise AuthFailed(
                f"{self.service} refused the credentials (HTTP {status} to "
                f"{where(response.request)}); check the token or client secret and the "
                "integration user's permissions"
            )
        raise FatalSyncError(
            f"{self.service} answered HTTP {status} to {where(response.request)}: "
            f"{short(response.text)}"
        )


def short(text: str, limit: int = 300) -> str:
    """A vendor's answer, shortened and on one line, for messages and the write-back audit."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- connectors ----------------------------------------------------------------------------

HC = TypeVar("HC", bound=HttpSourceConfig)


class HttpConnector(Connector[HC]):
    """A connector that talks HTTP; tests pass `transport`, `sleep` and `now` to fake the vendor."""

    service: ClassVar[str] = "API"

    def __init__(
        self,
        config: HC,
        context: ConnectorContext,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        now: Now = utc_now,
    ) -> None:
        super().__init__(config, context)
        self._transport = transport
        self._sleep = sleep
        self.now = now  # the clock that freezes a run's upper bound (injected in tests)
        self._auth: httpx.Auth | None = None
        self._auth_built = False

    def auth(self) -> httpx.Auth | None:
        """The auth of every request; built once per connector so tokens are reused."""
        return None

    def headers(self) -> Mapping[str, str]:
        return {"Accept": "application/json"}

    def client(self) -> RestClient:
        if not self._auth_built:
            self._auth = self.auth()
            self._auth_built = True
        return RestClient(
            self.config.base_url,
            service=f"{self.service} ({self.name})",
            auth=self._auth,
            headers=self.headers(),
            timeout=self.config.timeout_seconds,
            verify=self.config.verify_tls,
            transport=self._transport,
            sleep=self._sleep,
            max_attempts=self.config.max_attempts,
            max_retry_seconds=self.config.max_retry_seconds,
        )


# --- paging --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Any]
    token: Any  # what asked for this page (None for the first)
    response: httpx.Response


class RestStream:
    """One paginated endpoint. Override the hooks; `pages()` does the loop."""

    method: ClassVar[str] = "GET"
    path: ClassVar[str] = ""
    max_pages: ClassVar[int] = 100_000  # a runaway `next` link must not loop forever

    def __init__(self, client: RestClient) -> None:
        self.client = client

    def url(self, _token: Any) -> str:
        return self.path

    def params(self, _token: Any) -> dict[str, Any]:
        return {}

    def body(self, _token: Any) -> dict[str, Any] | None:
        """Form fields to POST (for APIs such as Moodle's that take everything in the body)."""
        return None

    def validate_response(self, response: httpx.Response) -> None:
        """Raise for an answer that is an error despite its status (Moodle's 200 exceptions)."""

    def parse_page(self, response: httpx.Response) -> list[Any]:
        body = json_body(response)
        if not isinstance(body, list):
            raise MalformedPage("expected a JSON array", where=where(response.request))
        return body

    def next_page(self, _response: httpx.Response, _records: Sequence[Any], _token: Any) -> Any:
        """The token of the next page, or None when this was the last."""
        return None

    def pages(self) -> Iterator[Page]:
        token: Any = None
        for _ in range(self.max_pages):
            response = self.client.request(
                self.method,
                self.url(token),
                params=self.params(token),
                data=self.body(token),
                validate=self.validate_response,
            )
            records = self.parse_page(response)
            following = self.next_page(response, records, token)
            yield Page(records, token, response)
            if following is None:
                return
            if following == token:
                raise MalformedPage(
                    f"the API offered page {token!r} again", where=where(response.request)
                )
            token = following
        raise MalformedPage(f"more than {self.max_pages} pages; the paging never ends")


# --- payload helpers -----------------------------------------------------------------------


def json_body(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        kind = response.headers.get("Content-Type", "no content type")
        raise MalformedPage(
            f"the answer is not JSON ({kind}, {len(response.content)} bytes)",
            where=where(response.request),
        ) from None


def records_at(response: httpx.Response, body: Any, *path: str) -> list[Any]:
    """The list at `path` inside a JSON object, or MalformedPage saying what is missing."""
    node = body
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise MalformedPage(
                f"the answer has no {'.'.join(path)} array", where=where(response.request)
            )
        node = node[key]
    if node is None:
        return []
    if not isinstance(node, list):
        raise MalformedPage(f"{'.'.join(path)} is not an array", where=where(response.request))
    return node


def field(raw: Mapping[str, Any], *path: str) -> Any:
    """A nested value, or None when any step is missing."""
    node: Any = raw
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def text(raw: Mapping[str, Any], *path: str) -> str:
    """A scalar as stripped text; '' when missing or null."""
    value = field(raw, *path)
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def require(raw: Mapping[str, Any], *path: str) -> str:
    value = text(raw, *path)
    if not value:
        raise BadValue(f"{'.'.join(path)} is missing")
    return value


def as_record(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise BadValue(f"a record must be a JSON object, got {type(raw).__name__}")
    return raw
