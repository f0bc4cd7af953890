"""The LRS client: posts outbox batches and says, per statement, what became of it.

- 200/204: every statement in the batch is stored.
- 409: a statement with that id is already there. Bisected down to the statement; if the
  stored copy equals ours it counts as stored (a re-send after a crash), else it is rejected
  as a conflict and never retried.
- 413: the batch is split in two.
- 400/422: the batch is bisected until the bad statements are isolated; those are rejected
  with the LRS's reason and the rest is delivered.
- connection errors, timeouts, 408/425/429/5xx: retried by the one retry policy
  (`adoptloop.http.retry`: Retry-After, else exponential backoff with jitter) until
  `max_retry_seconds` have passed; then the RetriableError goes up and the run ends cleanly
  with the statements still in the outbox.
- 401/403: FatalSyncError (fix the credentials; retrying will not help).

The client takes plain values (endpoint, an `httpx.Auth`, bounds); it knows no settings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from adoptloop import __version__
from adoptloop.errors import FatalSyncError, RetriableError
from adoptloop.http.retry import Sleep, retrying
from adoptloop.http.status import Outcome, classify, retry_after

_IGNORED_ON_COMPARE = ("stored", "authority", "version")


@dataclass(frozen=True, slots=True)
class Outgoing:
    statement_id: str
    payload: bytes  # canonical JSON, sent byte for byte


@dataclass
class BatchResult:
    stored: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (statement id, reason)


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body.get("warnings") or body
        return f"HTTP {response.status_code}: {str(message)[:500]}"
    return f"HTTP {response.status_code}: {str(body)[:300]}"


class LRSClient:
    """Posts batches to one LRS; `pipeline.deliver.lrs_client` builds it from the settings."""

    def __init__(
        self,
        endpoint: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        verify: bool = True,
        max_retry_seconds: float = 600.0,
        xapi_version: str = "1.0.3",
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._max_retry_seconds = max_retry_seconds
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=endpoint.rstrip("/") + "/",
            auth=auth,
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={
                "X-Experience-API-Version": xapi_version,
                "User-Agent": f"adoptloop/{__version__}",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LRSClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- sending ---------------------------------------------------------------------------

    def send(self, batch: Sequence[Outgoing]) -> BatchResult:
        result = BatchResult()
        self._send(list(batch), result)
        return result

    def _send(self, batch: list[Outgoing], result: BatchResult) -> None:
        if not batch:
            return
        response = self._request_with_retry(
            "POST",
            "statements",
            content=b"[" + b",".join(s.payload for s in batch) + b"]",
            headers={"Content-Type": "application/json"},
        )
        outcome = classify(response.status_code)
        if outcome is Outcome.OK:
            result.stored.extend(s.statement_id for s in batch)
        elif (
            outcome in (Outcome.TOO_LARGE, Outcome.BAD_REQUEST, Outcome.CONFLICT) and len(batch) > 1
        ):
            middle = len(batch) // 2
            self._send(batch[:middle], result)
            self._send(batch[middle:], result)
        elif outcome is Outcome.CONFLICT:
            statement = batch[0]
            if self._stored_equals(statement):
                result.stored.append(statement.statement_id)
            else:
                result.rejected.append(
                    (
                        statement.statement_id,
                        "conflict: the LRS holds a different statement with this id",
                    )
                )
        elif outcome is Outcome.BAD_REQUEST:
            result.rejected.append((batch[0].statement_id, _reason(response)))
        elif outcome is Outcome.TOO_LARGE:
            result.rejected.append(
                (batch[0].statement_id, "statement alone exceeds the LRS's size limit")
            )
        else:
            raise FatalSyncError(
                f"LRS answered {_reason(response)} to POST statements; check delivery.lrs "
                "endpoint and credentials"
            )

    def _stored_equals(self, statement: Outgoing) -> bool:
        stored = self.get_statement(statement.statement_id)
        if stored is None:
            stored = self.get_statement(statement.statement_id, voided=True)
        if stored is None:
            return False
        ours = orjson.loads(statement.payload)
        theirs = {k: v for k, v in stored.items() if k not in _IGNORED_ON_COMPARE}
        return bool(_normalise(theirs) == _normalise(ours))

    # --- reading ---------------------------------------------------------------------------

    def get_statement(self, statement_id: str, *, voided: bool = False) -> dict[str, Any] | None:
        param = "voidedStatementId" if voided else "statementId"
        response = self._request_with_retry("GET", "statements", params={param: statement_id})
        if response.status_code == 404:
            return None
        if classify(response.status_code) is not Outcome.OK:
            raise FatalSyncError(f"LRS answered {_reason(response)} to GET statements")
        body = response.json()
        return body if isinstance(body, dict) else None

    # --- transport -------------------------------------------------------------------------

    def _request_with_retry(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        policy = retrying(sleep=self._sleep, max_elapsed_seconds=self._max_retry_seconds)
        for attempt in policy:
            with attempt:
                return self._request(method, url, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise RetriableError(f"LRS unreachable ({exc.__class__.__name__})") from None
        if classify(response.status_code) is Outcome.RETRY:
            raise RetriableError(
                f"LRS answered HTTP {response.status_code}", retry_after=retry_after(response)
            )
        if classify(response.status_code) is Outcome.AUTH:
            raise FatalSyncError(
                f"LRS refused the credentials ({_reason(response)}); check delivery.lrs.username "
                "and password"
            )
        return response


def _normalise(value: Any) -> Any:
    """Compare statements as JSON values: numbers by value, key order ignored."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value
