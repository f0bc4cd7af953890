"""The httpx base of the REST connectors: config, connector, paging hooks, payload helpers.

- `HttpSourceConfig` holds the fields every REST connector has; `HttpConnector` builds a
  `adoptloop.http.client.RestClient` from them (retries, status classification and auth come
  from the neutral kit in `adoptloop.http`).
- `RestStream` pages through one endpoint with small hooks (`url`, `params`, `validate_response`,
  `parse_page`, `next_page`), as meltano's RESTStream does.
- `json_body`, `records_at`, `field`, `text`, `require`, `as_record` read vendor JSON; a value
  that is missing or of the wrong shape raises `BadValue` (the record is quarantined).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx
import orjson
from pydantic import Field

from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.connectors.values import BadValue
from adoptloop.errors import FatalSyncError
from adoptloop.fields import HttpURL
from adoptloop.http.client import RestClient, where
from adoptloop.http.retry import Sleep

Now = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class MalformedPage(FatalSyncError):
    """A response that is not the page the API promised (not JSON, no records array)."""

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(message)
        self.where = where


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

    def params(self, _token: Any) -> dict[str, Any] | None:
        """The query string; None keeps the one `url` carries (a next link's own query)."""
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
