"""Every call to the Vault API: session auth, errors inside HTTP 200, burst-limit pacing.

- Auth: `POST /api/{version}/auth` with the user name and password (a form) answers a
  `sessionId`, sent as the `Authorization` header of every later call. Vault reports most
  errors with HTTP 200 and `responseStatus: FAILURE`, so every body is checked:
  `INVALID_SESSION_ID` (the session expired or was ended) logs in again once and repeats the
  call; a refused login is `AuthFailed` (exit 3) naming the source; `API_LIMIT_EXCEEDED`
  (the auth endpoint's own 1-minute burst limit, or any other limit) is `ApiLimitReached`:
  the connector stops at its last checkpoint and the run ends with 75.
- Limits: Vault does not refuse calls once the 5-minute burst limit is used up, it delays
  them (`X-VaultAPI-ResponseDelay`, logged). `X-VaultAPI-BurstLimitRemaining` is read on every
  answer and once it falls to the configured headroom the client pauses one burst window, so
  that other integrations (Veeva's own sync) keep their share. Daily limits are not enforced
  since v21.1 and not read.
- Transport errors, 429 and 5xx are retried by the one retry policy (`adoptloop.http`).
- `stats` counts this run's calls, pauses and Vault's delays (`status` and the run log).
"""

from __future__ import annotations

import contextlib
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from adoptloop.connectors.crm.vault.config import VaultConfig
from adoptloop.connectors.rest import MalformedPage, json_body
from adoptloop.errors import FatalSyncError
from adoptloop.http.client import AuthFailed, RestClient
from adoptloop.http.retry import Sleep

log = structlog.get_logger(__name__)

INVALID_SESSION = "INVALID_SESSION_ID"
LIMIT_EXCEEDED = "API_LIMIT_EXCEEDED"


class ApiLimitReached(Exception):
    """A Vault limit refused a call: stop at the last checkpoint, resume next run."""


class VaultError(FatalSyncError):
    """`responseStatus: FAILURE` that is neither an expired session nor a limit."""

    def __init__(self, message: str, types: tuple[str, ...]) -> None:
        super().__init__(message)
        self.types = types


@dataclass
class Stats:
    """This run's use of the Vault API."""

    calls: int = 0
    logins: int = 0
    paused_seconds: float = 0.0
    delayed_ms: int = 0
    delayed_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "logins": self.logins,
            "delayed_calls": self.delayed_calls,
            "delayed_ms": self.delayed_ms,
            "paused_seconds": round(self.paused_seconds),
        }

    def as_text(self) -> str:
        return (
            f"{self.calls} API calls ({self.logins} logins), {self.delayed_calls} delayed by "
            f"Vault ({self.delayed_ms} ms), paused {self.paused_seconds:.0f} s for the burst limit"
        )


def _errors(body: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    errors = body.get("errors")
    found = [e for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []
    types = tuple(str(e.get("type", "")) for e in found)
    message = "; ".join(f"{e.get('type')}: {e.get('message', '')}".strip() for e in found)
    return types, message or str(body.get("errorType") or "no error detail")


def _header_int(response: httpx.Response, name: str) -> int | None:
    raw = response.headers.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


class VaultClient:
    def __init__(
        self,
        config: VaultConfig,
        *,
        source: str,
        transport: httpx.BaseTransport | None,
        sleep: Sleep,
    ) -> None:
        self.config = config
        self.source = source
        self.sleep = sleep
        self.api = f"api/{config.api_version}"
        self.stats = Stats()
        self.server_time: datetime | None = None
        self._session: str | None = None
        settings = config.sync
        self._rest = RestClient(
            config.url,
            service=f"Vault ({source})",
            headers={"Accept": "application/json"},
            timeout=settings.timeout_seconds,
            transport=transport,
            sleep=sleep,
            max_attempts=settings.max_attempts,
            max_retry_seconds=settings.max_retry_seconds,
        )

    def close(self) -> None:
        self._rest.close()

    # --- auth ------------------------------------------------------------------------------

    def login(self) -> None:
        auth = self.config.auth
        response = self._rest.request(
            "POST",
            f"{self.api}/auth",
            data={"username": auth.username, "password": auth.password.get_secret_value()},
        )
        self._observe(response)
        self.stats.logins += 1
        body = json_body(response)
        session = body.get("sessionId") if isinstance(body, Mapping) else None
        if isinstance(body, Mapping) and body.get("responseStatus") == "SUCCESS" and session:
            self._session = str(session)
            return
        types, message = _errors(body if isinstance(body, Mapping) else {})
        if LIMIT_EXCEEDED in types:
            raise ApiLimitReached(f"the Vault auth endpoint's burst limit is used up ({message})")
        raise AuthFailed(
            f"source {self.source!r}: Vault {self.config.url} refused the login of "
            f"{auth.username!r} ({message}); check auth.username and auth.password and that "
            "the user is active with API access"
        )

    # --- calls -----------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a successful call; `path` is relative to the Vault's URL."""
        for attempt in (1, 2):
            if self._session is None:
                self.login()
            response = self._rest.request(
                method,
                path,
                params=params,
                data=data,
                headers={"Authorization": str(self._session)},
            )
            self._observe(response)
            body = json_body(response)
            if not isinstance(body, dict):
                raise MalformedPage(
                    "the Vault answer is not a JSON object", where=f"{method} {path}"
                )
            if body.get("responseStatus") != "FAILURE":
                return body
            types, message = _errors(body)
            if INVALID_SESSION in types and attempt == 1:
                log.info("Vault session expired; logging in again", source=self.source)
                self._session = None
                continue
            if LIMIT_EXCEEDED in types:
                raise ApiLimitReached(f"Vault refused a call: {message}")
            raise VaultError(f"Vault ({self.source}) refused {method} {path}: {message}", types)
        raise AssertionError("unreachable")  # pragma: no cover

    def query(self, vql: str) -> dict[str, Any]:
        return self.call("POST", f"{self.api}/query", data={"q": vql})

    def page(self, next_page: str) -> dict[str, Any]:
        """A further page of a query: `responseDetails.next_page` as Vault gave it."""
        path, _, query = next_page.lstrip("/").partition("?")
        return self.call("GET", path, params=dict(httpx.QueryParams(query)))

    # --- limits ----------------------------------------------------------------------------

    def _observe(self, response: httpx.Response) -> None:
        self.stats.calls += 1
        date = response.headers.get("Date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                self.server_time = email.utils.parsedate_to_datetime(date).astimezone(UTC)
        delay = _header_int(response, "X-VaultAPI-ResponseDelay")
        if delay:
            self.stats.delayed_ms += delay
            self.stats.delayed_calls += 1
            log.warning(
                "Vault delayed the answer: the burst limit is used up",
                source=self.source,
                delay_ms=delay,
            )
        remaining = _header_int(response, "X-VaultAPI-BurstLimitRemaining")
        limit = _header_int(response, "X-VaultAPI-BurstLimit")
        if remaining is None or not limit:
            return
        if remaining <= limit * self.config.sync.burst_headroom:
            pause = self.config.sync.burst_window_seconds
            log.info(
                "pausing for the Vault burst limit (headroom left to other integrations)",
                source=self.source,
                remaining=remaining,
                limit=limit,
                seconds=pause,
            )
            self.stats.paused_seconds += pause
            self.sleep(pause)
