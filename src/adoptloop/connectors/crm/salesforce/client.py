"""Every call to Salesforce goes through `SalesforceClient.call`.

- Errors are classified in one place (`classify`), by Salesforce's errorCode first, then by
  the HTTP status as the kit's one classification (`adoptloop.http.status`) sees it.
- 5xx and connection errors are retried by the one retry policy (`adoptloop.http.retry`,
  the sleep is injected), bounded by `sync.max_attempts`.
- INVALID_SESSION_ID: log in again and repeat the call. simple-salesforce is never given the
  credentials, so its own re-login (which gives up after four tries, and whose per-object
  calls can recurse) never runs; it only ever holds a session id.
- `Sforce-Limit-Info: api-usage=N/M` is read from every response; before each call, a usage at
  or above the configured share of the daily limit raises `BudgetExhausted`, and so does
  REQUEST_LIMIT_EXCEEDED: the sync stops at its last checkpoint instead of retrying.
- Messages carry the Salesforce error code and text, never a URL query, a header or a token.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from enum import Enum
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote_plus

import requests
import structlog
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.util import exception_handler

from adoptloop.connectors.crm.salesforce.auth import Authenticator
from adoptloop.connectors.crm.salesforce.config import SyncSettings
from adoptloop.errors import FatalSyncError, RetriableError
from adoptloop.http import status as http_status
from adoptloop.http.retry import Sleep, retrying

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_REAUTH = 2  # consecutive re-logins for one call before giving up
# characters of a SOQL text left as they are in a query string (all valid there, RFC 3986)
_SOQL_SAFE = "'(),=!:"
_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


class Kind(Enum):
    SESSION = "session"  # INVALID_SESSION_ID: log in again
    LIMIT = "limit"  # REQUEST_LIMIT_EXCEEDED: stop and checkpoint
    QUERY_TIMEOUT = "query_timeout"  # split the window
    LOCATOR = "locator"  # INVALID_QUERY_LOCATOR: restart the query from the last position
    NOT_FOUND = "not_found"
    RETRY = "retry"  # 5xx, connection errors
    FATAL = "fatal"


class SalesforceCallError(FatalSyncError):
    def __init__(self, message: str, *, kind: Kind, code: str | None, status: int | None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.status = status


class QueryTimeout(SalesforceCallError):
    """QUERY_TIMEOUT: the query ran too long; a narrower window may not."""


class QueryLocatorInvalid(SalesforceCallError):
    """The nextRecordsUrl is no longer valid; restart from the last position."""


class NotFound(SalesforceCallError):
    """404, e.g. an unknown object or an expired Bulk job."""


class BudgetExhausted(Exception):
    """The daily API budget (our share, or Salesforce's own limit) is used up: stop, resume later."""

    def __init__(self, used: int | None, total: int | None, reason: str) -> None:
        super().__init__(reason)
        self.used = used
        self.total = total


@dataclass(frozen=True)
class Usage:
    used: int
    total: int


def _codes(content: Any) -> tuple[str | None, str]:
    """(errorCode, message) of a Salesforce error body: a list of {errorCode, message}."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode") or "") or None, str(first.get("message") or "")
    if isinstance(content, dict):  # OAuth-style and some Bulk 2.0 errors
        code = content.get("errorCode") or content.get("error")
        return (str(code) if code else None), str(content.get("message") or "")
    return None, ""


def classify(status: int | None, code: str | None) -> Kind:
    """The one place that decides how a failed call is handled."""
    by_code = {
        "INVALID_SESSION_ID": Kind.SESSION,
        "REQUEST_LIMIT_EXCEEDED": Kind.LIMIT,
        "QUERY_TIMEOUT": Kind.QUERY_TIMEOUT,
        "INVALID_QUERY_LOCATOR": Kind.LOCATOR,
        "SERVER_UNAVAILABLE": Kind.RETRY,
        "UNABLE_TO_LOCK_ROW": Kind.RETRY,
    }
    if code in by_code:
        return by_code[code]
    if status is None or http_status.classify(status) is http_status.Outcome.RETRY:
        return Kind.RETRY  # no answer (a dropped connection), 408/425/429 or 5xx
    if status == 401:
        return Kind.SESSION
    if status == 404:
        return Kind.NOT_FOUND
    return Kind.FATAL


def _translate(exc: SalesforceError | requests.RequestException, what: str) -> Exception:
    if isinstance(exc, requests.RequestException):
        return RetriableError(f"{what}: {exc.__class__.__name__} talking to Salesforce")
    code, message = _codes(exc.content)
    kind = classify(exc.status, code)
    text = f"{what}: Salesforce answered {exc.status} {code or ''} {message}".rstrip()
    if kind is Kind.RETRY:
        return RetriableError(text)
    cls = {
        Kind.QUERY_TIMEOUT: QueryTimeout,
        Kind.LOCATOR: QueryLocatorInvalid,
        Kind.NOT_FOUND: NotFound,
    }.get(kind, SalesforceCallError)
    return cls(text, kind=kind, code=code, status=exc.status)


class SalesforceClient:
    """A logged-in simple-salesforce client with retries, re-login and API budgeting."""

    def __init__(
        self,
        authenticator: Authenticator,
        sync: SyncSettings,
        *,
        api_version: str,
        session: requests.Session,
        sleep: Sleep,
    ) -> None:
        self.authenticator = authenticator
        self.sync = sync
        self.api_version = api_version
        self.session = session
        self.sleep = sleep
        self.usage: Usage | None = None
        self.server_time: datetime | None = None  # the org's clock, from the last Date header
        self.calls = 0
        self._sf: Salesforce | None = None
        # the Bulk read maps chunks in two threads (sync.in_order): their lookups share this
        # client, so the call count and a login after an expired session are done under a lock
        self._lock = threading.Lock()
        session.hooks["response"].append(self._observe)

    # --- plumbing ---------------------------------------------------------------------------

    def _observe(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.usage = Usage(int(match.group(1)), int(match.group(2)))
        served = response.headers.get("Date")
        if served:
            with contextlib.suppress(TypeError, ValueError):  # malformed: keep the last good one
                self.server_time = parsedate_to_datetime(served).astimezone(UTC)

    def _retry(self, fn: Callable[[], T]) -> T:
        policy = retrying(sleep=self.sleep, max_attempts=self.sync.max_attempts)
        try:
            return policy(fn)
        except RetriableError as exc:
            raise FatalSyncError(
                f"{exc} (gave up after {self.sync.max_attempts} tries; the next run resumes "
                "from the last checkpoint)"
            ) from None

    def _login(self) -> Salesforce:
        token = self._retry(self.authenticator.login)
        self._sf = Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            version=self.api_version,
            session=self.session,
        )
        return self._sf

    def _check_budget(self) -> None:
        usage = self.usage
        if (
            usage is not None
            and usage.total
            and usage.used >= self.sync.max_api_share * usage.total
        ):
            raise BudgetExhausted(
                usage.used,
                usage.total,
                f"API usage {usage.used}/{usage.total} reached the configured share "
                f"{self.sync.max_api_share:g} of the daily limit",
            )

    def call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """Run one API call: budget check, retries on 5xx/network, re-login on an expired session."""
        renewals = 0
        while True:
            self._check_budget()
            with self._lock:
                sf = self._sf or self._login()
            try:
                return self._retry(partial(self._once, sf, fn, what))
            except SalesforceCallError as exc:
                if exc.kind is Kind.LIMIT:
                    usage = self.usage
                    raise BudgetExhausted(
                        usage.used if usage else None,
                        usage.total if usage else None,
                        f"Salesforce refused {what} with REQUEST_LIMIT_EXCEEDED",
                    ) from None
                if exc.kind is not Kind.SESSION:
                    raise
                if not self.authenticator.renewable:
                    raise FatalSyncError(
                        "the configured Salesforce session has expired; configure auth.type "
                        "jwt-bearer or client-credentials so adoptloop can log in again"
                    ) from None
                renewals += 1
                if renewals > MAX_REAUTH:
                    raise FatalSyncError(
                        f"{what}: Salesforce rejects every new session (INVALID_SESSION_ID after "
                        f"{MAX_REAUTH} fresh logins); check the connected app's session policies"
                    ) from None
                log.info("salesforce session expired; logging in again", call=what)
                with self._lock:
                    if self._sf is sf:  # not renewed by another thread meanwhile
                        self._sf = None

    def _once(self, sf: Salesforce, fn: Callable[[Salesforce], T], what: str) -> T:
        with self._lock:
            self.calls += 1
        try:
            return fn(sf)
        except (SalesforceError, requests.RequestException) as exc:
            raise _translate(exc, what) from None

    # --- the calls the connector makes -----------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool) -> dict[str, Any]:
        """One page of a SOQL query (GET query/ or queryAll/ with `q`), as JSON."""
        headers = {"Sforce-Query-Options": f"batchSize={self.sync.page_size}"}
        # `q` percent-encoded only where a URL query needs it (space as "+"; quotes, commas,
        # parentheses and "=" as they are): a lookup's 200-id IN (...) then passes the URL
        # checks of requests and urllib3 on their fast paths instead of byte by byte
        query = quote_plus(soql, safe=_SOQL_SAFE)
        resource = "queryAll/" if include_deleted else "query/"

        def fetch(sf: Salesforce) -> dict[str, Any]:
            response = sf.session.get(
                f"{sf.base_url}{resource}?q={query}",
                headers={**sf.headers, **headers},
                timeout=self.sync.timeout_seconds,
            )
            if response.status_code >= 300:
                exception_handler(response, "query")
            result = response.json()
            return result if isinstance(result, dict) else {}

        return self.call("query", fetch)

    def query_more(self, next_records_url: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "query (next page)",
            lambda sf: sf.query_more(
                next_records_url, identifier_is_url=True, timeout=self.sync.timeout_seconds
            ),
        )
        return result

    def rest(self, what: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A REST resource under /services/data/vXX.X/ as JSON ({} for an empty answer)."""

        def fetch(sf: Salesforce) -> dict[str, Any]:
            result = sf.restful(path, timeout=self.sync.timeout_seconds, **kwargs)
            return result if isinstance(result, dict) else {}

        return self.call(what, fetch)

    def describe(self, sobject: str) -> dict[str, Any]:
        return self.rest(f"describe {sobject}", f"sobjects/{sobject}/describe")

    def changed_since(self, path: str, since: datetime, what: str) -> dict[str, Any] | None:
        """GET a metadata resource with If-Modified-Since: None when Salesforce answers 304
        Not Modified (describe-global `sobjects/` and an sObject's `describe` support it)."""

        def fetch(sf: Salesforce) -> dict[str, Any] | None:
            response = sf.session.get(
                f"{sf.base_url}{path}",
                headers={
                    **sf.headers,
                    "If-Modified-Since": format_datetime(since.astimezone(UTC), usegmt=True),
                },
                timeout=self.sync.timeout_seconds,
            )
            if response.status_code == 304:
                return None
            if response.status_code >= 300:
                exception_handler(response, what)
            result = response.json()
            return result if isinstance(result, dict) else {}

        return self.call(what, fetch)

    def deleted(self, sobject: str, start: str, end: str) -> dict[str, Any]:
        return self.rest(
            f"deleted {sobject}",
            f"sobjects/{sobject}/deleted/",
            params={"start": start, "end": end},
        )

    def bulk_create(self, soql: str) -> dict[str, Any]:
        body = {
            "operation": "queryAll",
            "query": soql,
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        return self.rest("bulk query job", "jobs/query", method="POST", data=json.dumps(body))

    def bulk_job(self, job_id: str) -> dict[str, Any]:
        return self.rest("bulk job status", f"jobs/query/{job_id}")

    def bulk_results(self, job_id: str, locator: str | None) -> tuple[str, str | None]:
        """One page of a Bulk 2.0 query job's CSV, and the locator of the next (None: last)."""

        def fetch(sf: Salesforce) -> tuple[str, str | None]:
            params: dict[str, str | int] = {"maxRecords": self.sync.bulk_page_size}
            if locator:
                params["locator"] = locator
            response = sf.session.get(
                f"{sf.base_url}jobs/query/{job_id}/results",
                headers={**sf.headers, "Accept": "text/csv"},
                params=params,
                timeout=self.sync.timeout_seconds,
            )
            if response.status_code >= 300:
                exception_handler(response, "bulk results")
            following = response.headers.get("Sforce-Locator") or "null"
            return response.content.decode("utf-8"), None if following == "null" else following

        return self.call("bulk job results", fetch)
