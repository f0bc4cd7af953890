"""A fake Vault CRM behind `httpx.MockTransport`, shaped like the real API
(shared/reference/api-shapes/vault_crm.json): session auth, VQL queries paged by next_page
over a result set frozen at query time, the deletions log, object metadata, burst-limit
headers and response delays, session expiry and API_LIMIT_EXCEEDED, all in HTTP 200 bodies.

Its VQL is a small evaluator of what a connector may send: SELECT fields FROM object
[WHERE condition] [ORDER BY field ASC|DESC, ...] [PAGESIZE n], conditions of comparisons
(=, !=, <, <=, >, >=), `field CONTAINS ('a', 'b')`, AND, OR and parentheses; relationship
paths `x__vr.field` follow the id in `x__v` to the record it names.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx

from adoptloop.testing.fake_api import FakeApi, form, json_response

VERSION = "v24.1"
API = f"/api/{VERSION}"
URL = "https://myvault.veevavault.example"
USERNAME = "integration@vault.example.com"
PASSWORD = "s3cret-Pa55"

# which object a relationship `<name>__vr` points at, when not `<name>__v` itself
RELATIONSHIPS = {"object_type__vr": "object_type__v"}


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def failure(kind: str, message: str) -> dict[str, Any]:
    return {"responseStatus": "FAILURE", "errors": [{"type": kind, "message": message}]}


# --- a small VQL evaluator -----------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|=|<|>)|(?P<p>[(),])|(?P<word>[A-Za-z0-9_.*]+))"
)


def tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"cannot read VQL at {text[pos : pos + 20]!r}")
        out.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return out


Getter = Callable[[dict[str, Any], str], Any]
Predicate = Callable[[dict[str, Any]], bool]


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


def _literal(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


class _Where:
    def __init__(self, toks: list[str], get: Getter) -> None:
        self.toks, self.i, self.get = toks, 0, get

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        self.i += 1
        return self.toks[self.i - 1]

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while (self.peek() or "").upper() == "OR":
            self.take()
            right, first = self.parse_and(), left
            left = _either(first, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_atom()
        while (self.peek() or "").upper() == "AND":
            self.take()
            right, first = self.parse_atom(), left
            left = _both(first, right)
        return left

    def parse_atom(self) -> Predicate:
        if self.peek() == "(":
            self.take()
            inner = self.parse_or()
            assert self.take() == ")"
            return inner
        name, op = self.take(), self.take()
        if op.upper() == "CONTAINS":
            assert self.take() == "("
            values: set[str] = set()
            while True:
                values.add(_literal(self.take()))
                if self.take() == ")":
                    break
            return lambda r: any(v in values for v in _values(self.get(r, name)))
        literal = _literal(self.take())
        compare: Callable[[str, str], bool] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }[op]
        if op == "!=":
            return lambda r: all(compare(v, literal) for v in _values(self.get(r, name)))
        return lambda r: any(compare(v, literal) for v in _values(self.get(r, name)))


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


_QUERY = re.compile(
    r"SELECT (?P<fields>.+?) FROM (?P<object>\w+)(?: WHERE (?P<where>.+?))?"
    r"(?: ORDER BY (?P<order>.+?))?(?: PAGESIZE (?P<size>\d+))?\s*$",
    re.S,
)


@dataclass
class Result:
    rows: list[dict[str, Any]]
    size: int
    object: str = ""
    ordered: bool = False  # an ORDER BY listing (a window), not a lookup


@dataclass
class FakeVault:
    now: datetime = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    page_size_cap: int = 1000
    burst_limit: int = 2000
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deletions: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)
    schema: dict[str, set[str]] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    results: dict[str, Result] = field(default_factory=dict)
    burst_used: int = 0
    limit_in: int | None = None  # calls until API_LIMIT_EXCEEDED
    auth_limited: bool = False
    expire_session_in: int | None = None  # calls until the session is ended
    log: list[str] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    broken: dict[str, set[int]] = field(default_factory=dict)  # object -> pages to spoil once

    def __post_init__(self) -> None:
        self.api = FakeApi(URL)
        self.api.route("POST", f"{API}/auth", self._auth)
        self.api.route("POST", f"{API}/query", self._query)
        self.api.route("GET", f"{API}/query/*", self._next_page)
        self.api.route("GET", f"{API}/objects/deletions/vobjects/*", self._deletions)
        self.api.route("GET", f"{API}/metadata/vobjects/*", self._metadata)
        self._ids = itertools.count(1)

    # --- data ------------------------------------------------------------------------------

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def insert(self, object_name: str, prefix: str, **fields: Any) -> str:
        record_id = fields.pop("id", None) or f"{prefix}{next(self._ids):012d}"
        self.tick(milliseconds=1)
        self.tables.setdefault(object_name, {})[record_id] = {
            "id": record_id,
            **fields,
            "modified_date__v": stamp(self.now),
        }
        self.schema.setdefault(object_name, {"id", "modified_date__v"}).update(fields)
        return record_id

    def update(
        self, object_name: str, record_id: str, *, at: datetime | None = None, **fields: Any
    ) -> None:
        if at is None:
            self.tick(milliseconds=1)
        record = self.tables[object_name][record_id]
        record.update(fields)
        record["modified_date__v"] = stamp(at or self.now)

    def delete(self, object_name: str, record_id: str) -> None:
        self.tick(milliseconds=1)
        del self.tables[object_name][record_id]
        self.deletions.setdefault(object_name, []).append((record_id, self.now))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def break_page(self, object_name: str, number: int) -> None:
        """Page `number` (1-based) of the next ordered listing of the object loses its data."""
        self.broken.setdefault(object_name, set()).add(number)

    def _spoiled(self, result_id: str, offset: int, body: dict[str, Any]) -> dict[str, Any]:
        result = self.results[result_id]
        pages = self.broken.get(result.object, set())
        number = offset // result.size + 1
        if not result.ordered or number not in pages:
            return body
        pages.discard(number)
        return {"responseStatus": "SUCCESS", "responseDetails": body["responseDetails"]}

    def expire_page_cursors(self) -> None:
        self.results.clear()

    def sleep(self, seconds: float) -> None:
        """The connector's injected sleep: time passes, a new burst window begins."""
        self.sleeps.append(seconds)
        self.tick(seconds=seconds)
        if seconds >= 300:
            self.burst_used = 0

    # --- serving ---------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return self.api.transport()

    def _answer(self, body: dict[str, Any]) -> httpx.Response:
        self.burst_used += 1
        remaining = max(0, self.burst_limit - self.burst_used)
        headers = {
            "Date": format_datetime(self.now, usegmt=True),
            "X-VaultAPI-BurstLimit": str(self.burst_limit),
            "X-VaultAPI-BurstLimitRemaining": str(remaining),
            "X-VaultAPI-Status": str(body.get("responseStatus", "SUCCESS")),
        }
        if remaining == 0:
            headers["X-VaultAPI-ResponseDelay"] = "500"
        return json_response(body, headers=headers)

    def _guard(self, request: httpx.Request) -> dict[str, Any] | None:
        """The failure a call gets before its work: a limit, an ended or unknown session."""
        self.log.append(f"{request.method} {request.url.path}")
        if self.limit_in is not None:
            if self.limit_in <= 0:
                return failure("API_LIMIT_EXCEEDED", "API limit exceeded.")
            self.limit_in -= 1
        if self.expire_session_in is not None:
            if self.expire_session_in <= 0:
                self.expire_session_in = None
                self.sessions.clear()
            else:
                self.expire_session_in -= 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.sessions:
            return failure("INVALID_SESSION_ID", "Invalid or expired session ID.")
        return None

    def _auth(self, request: httpx.Request) -> httpx.Response:
        self.log.append("POST auth")
        if self.auth_limited:
            return self._answer(failure("API_LIMIT_EXCEEDED", "API limit exceeded."))
        body = form(request)
        if (body.get("username"), body.get("password")) != (USERNAME, PASSWORD):
            answer = failure(
                "USERNAME_OR_PASSWORD_INCORRECT",
                f"Authentication failed for user: {body.get('username')}.",
            )
            answer["errorType"] = "AUTHENTICATION_FAILED"
            return self._answer(answer)
        session = uuid.uuid4().hex.upper()
        self.sessions.add(session)
        return self._answer(
            {"responseStatus": "SUCCESS", "sessionId": session, "userId": 12021, "vaultId": 1776}
        )

    def _get(self, record: dict[str, Any], path: str) -> Any:
        head, _, rest = path.partition(".")
        if not rest:
            return record.get(head)
        target_object = RELATIONSHIPS.get(head, head.removesuffix("r"))
        target = self.tables.get(target_object, {}).get(str(record.get(head.removesuffix("r"))))
        return None if target is None else self._get(target, rest)

    def _query(self, request: httpx.Request) -> httpx.Response:
        refused = self._guard(request)
        if refused:
            return self._answer(refused)
        vql = form(request)["q"]
        match = _QUERY.match(vql.strip())
        if match is None:
            return self._answer(failure("INCORRECT_QUERY_SYNTAX_ERROR", vql[:60]))
        object_name = match["object"]
        rows = list(self.tables.get(object_name, {}).values())
        if match["where"]:
            predicate = _Where(tokens(match["where"]), self._get).parse_or()
            rows = [r for r in rows if predicate(r)]
        for part in reversed((match["order"] or "").split(",")):
            if part.strip():
                name, _, direction = part.strip().partition(" ")
                rows.sort(key=lambda r, n=name: str(r.get(n) or ""), reverse=direction == "DESC")  # type: ignore[misc]
        fields = [f.strip() for f in match["fields"].split(",")]
        selected = [{f: r.get(f) for f in fields} for r in rows]
        size = min(int(match["size"] or 1000), self.page_size_cap)
        result_id = str(uuid.uuid4())
        self.results[result_id] = Result(selected, size, object_name, bool(match["order"]))
        return self._answer(self._spoiled(result_id, 0, self._page(result_id, 0)))

    def _page(self, result_id: str, offset: int) -> dict[str, Any]:
        result = self.results[result_id]
        chunk = result.rows[offset : offset + result.size]
        details: dict[str, Any] = {
            "pagesize": result.size,
            "pageoffset": offset,
            "size": len(chunk),
            "total": len(result.rows),
        }
        if offset + result.size < len(result.rows):
            details["next_page"] = (
                f"{API}/query/{result_id}?pagesize={result.size}&pageoffset={offset + result.size}"
            )
        return {"responseStatus": "SUCCESS", "responseDetails": details, "data": chunk}

    def _next_page(self, request: httpx.Request) -> httpx.Response:
        refused = self._guard(request)
        if refused:
            return self._answer(refused)
        result_id = request.url.path.rsplit("/", 1)[-1]
        if result_id not in self.results:
            return self._answer(
                failure("INVALID_DATA", "Invalid query: the page is no longer available.")
            )
        offset = int(request.url.params["pageoffset"])
        return self._answer(self._spoiled(result_id, offset, self._page(result_id, offset)))

    def _deletions(self, request: httpx.Request) -> httpx.Response:
        refused = self._guard(request)
        if refused:
            return self._answer(refused)
        object_name = request.url.path.rsplit("/", 1)[-1]
        params = request.url.params
        start = datetime.fromisoformat(params["start_date"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(params["end_date"].replace("Z", "+00:00"))
        found = [
            {"id": i, "deleted_date": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
            for i, when in self.deletions.get(object_name, [])
            if start <= when.replace(microsecond=0) <= end
        ]
        limit, offset = int(params.get("limit", 1000)), int(params.get("offset", 0))
        chunk = found[offset : offset + limit]
        return self._answer(
            {
                "responseStatus": "SUCCESS",
                "responseDetails": {
                    "total": len(found),
                    "limit": limit,
                    "size": len(chunk),
                    "offset": offset,
                },
                "data": chunk,
            }
        )

    def _metadata(self, request: httpx.Request) -> httpx.Response:
        refused = self._guard(request)
        if refused:
            return self._answer(refused)
        object_name = request.url.path.rsplit("/", 1)[-1]
        if object_name not in self.schema:
            return self._answer(failure("INVALID_DATA", f"Object [{object_name}] not found"))
        fields = [{"name": n, "type": "String"} for n in sorted(self.schema[object_name])]
        return self._answer(
            {"responseStatus": "SUCCESS", "object": {"name": object_name, "fields": fields}}
        )
