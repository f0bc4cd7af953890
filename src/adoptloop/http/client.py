"""`RestClient`: an httpx client whose every request goes through the one status classification
and the one retry policy.

- Connect errors, timeouts and 408/425/429/5xx are retried by the one retry policy (honouring
  Retry-After), bounded by attempts and by the time spent waiting (`max_retry_seconds`), or by
  the wall-clock time since the first attempt (`max_elapsed_seconds`, the LRS reader's bound).
- 401/403 raise `AuthFailed` at once (a retry cannot fix credentials); any other non-2xx raises
  `FatalSyncError`.
- A server certificate the trust store does not accept raises `UntrustedCertificate` (exit 2)
  at once: a retry cannot fix it, the trust store can (`SSL_CERT_FILE`, which httpx honours).
- Messages name the host and path only (`where`): never a query string, a body or a header,
  which is where tokens and personal data live.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx

from adoptloop import __version__
from adoptloop.errors import ConfigError, FatalSyncError, RetriableError
from adoptloop.http.retry import Sleep, retrying
from adoptloop.http.status import Outcome, classify, retry_after

Validate = Callable[[httpx.Response], None]


class AuthFailed(FatalSyncError):
    """401/403 or a refused login: the credentials or the integration user's permissions are
    wrong, and retrying cannot help."""


class UntrustedCertificate(ConfigError):
    """The server's TLS certificate is not signed by a CA the trust store holds."""


def _certificate_problem(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def where(request: httpx.Request) -> str:
    """`METHOD host/path` of a request: safe to log (no query string, no body)."""
    return f"{request.method} {request.url.host}{request.url.path}"


def short(text: str, limit: int = 300) -> str:
    """A vendor's answer, shortened and on one line, for messages and the write-back audit."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
        max_attempts: int | None = 6,
        max_retry_seconds: float | None = 600.0,
        max_elapsed_seconds: float | None = None,
    ) -> None:
        self.service = service
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_retry_seconds = max_retry_seconds
        self._max_elapsed_seconds = max_elapsed_seconds
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
        policy = retrying(
            sleep=self._sleep,
            max_attempts=self._max_attempts,
            max_wait_seconds=self._max_retry_seconds,
            max_elapsed_seconds=self._max_elapsed_seconds,
        )
        for attempt in policy:
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

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url.lstrip("/"), **kwargs)
        except httpx.TransportError as exc:
            problem = _certificate_problem(exc)
            if problem is not None:
                host = self._http.base_url.host
                raise UntrustedCertificate(
                    f"{self.service}: the TLS certificate of {host} is not trusted "
                    f"({problem.verify_message}); set SSL_CERT_FILE to the CA bundle (PEM) "
                    "that signs it, as for a TLS-inspecting proxy"
                ) from None
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
