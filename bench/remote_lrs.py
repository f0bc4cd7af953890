"""A stand-in for an LRS on its own hardware: the statements API at little CPU per statement.

The serve-node measurement (bench/serve_nodes.py) asks whether a second `adoptloop serve` node
adds delivery throughput. A customer's LRS is a hosted service on machines of its own, tens of
milliseconds away: its CPU is not the nodes'. The tests' local LRS (Learning Locker's statement
service, tests/harness/lrs_server.py) validates every statement strictly at ~0.35-0.4 ms of CPU
each, on the same two cores as the nodes it is to measure: one node keeps it at ~100 % of a
core, so a second node cannot add, whatever the nodes do (bench/RESULTS.md, "two `serve` nodes
against an LRS reached over a network"). This stand-in answers the same requests the way an LRS
does, and spends ~10 us of CPU per statement, so that what bounds the nodes is the nodes, the
round trip (bench/relay.py in front of it) and the shared store:

- `POST {endpoint}statements` with a JSON array (or one statement): each needs a string `id`
  (adoptloop sends ids), else 400. A batch holding an id the LRS has with other content is
  refused whole with 409, storing nothing; an id stored with the same content is stored once
  (a re-send after a crash). 200 with the batch's ids. A voiding statement (verb
  `.../voided`, object a StatementRef) voids its target.
- `GET {endpoint}statements?statementId=ID` (a voided one: `voidedStatementId=ID`): the stored
  statement, else 404 (what `LRSClient` asks after a 409); `GET {endpoint}about`.
- HTTP Basic credentials and the `X-Experience-API-Version` header are required (401, 400);
  keep-alive as HTTP/1.1; a body needs a `Content-Length` (411 otherwise).
- Statements are kept in memory, each as compact JSON with sorted keys (the form compared for
  a conflict and returned by GET); `statements_count()` is what a GET listing would return:
  every stored statement but the voided ones.

It does not validate statements (the tests' strict LRS does: tests/pipeline, tests/xapi), keeps
no `stored`/`authority` and answers no query but by id. The server runs its own asyncio loop
in a thread (bench/loop_server.py; standard library and orjson):

    with RemoteLRS() as lrs:
        httpx.post(lrs.info.endpoint + "statements", auth=(lrs.info.username, ...), ...)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from tests.harness.lrs_server import LRSInfo

from bench.loop_server import LOOPBACK, LoopServer

PREFIX = "/xAPI/"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
_MAX_HEAD = 64 * 1024  # bytes of request line and headers
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
}


class Refused(Exception):
    """A request answered with an error status (and a message as its JSON body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Statements:
    """The stored statements (by id, compact JSON with sorted keys) and the voided ids."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.voided: set[str] = set()

    def post(self, body: bytes) -> list[str]:
        """Store a POSTed batch (all or nothing); its ids, in order."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Refused(400, f"the body is not JSON: {exc}") from None
        batch = parsed if isinstance(parsed, list) else [parsed]
        incoming: dict[str, tuple[bytes, dict[str, Any]]] = {}
        for statement in batch:
            if not isinstance(statement, dict) or not isinstance(statement.get("id"), str):
                raise Refused(400, "a statement without an id")
            statement_id = statement["id"]
            form = orjson.dumps(statement, option=orjson.OPT_SORT_KEYS)
            held = incoming.get(statement_id, (None, None))[0] or self.stored.get(statement_id)
            if held is not None and held != form:
                raise Refused(409, f"statement {statement_id} is stored with other content")
            incoming[statement_id] = (form, statement)
        for statement_id, (form, statement) in incoming.items():
            if statement_id in self.stored:
                continue
            self.stored[statement_id] = form
            target = statement.get("object")
            if (
                isinstance(statement.get("verb"), dict)
                and statement["verb"].get("id") == VOIDED
                and isinstance(target, dict)
                and target.get("objectType") == "StatementRef"
            ):
                self.voided.add(str(target.get("id")))
        return [str(s["id"]) for s in batch]

    def get(self, query: dict[str, list[str]]) -> bytes:
        """One statement by `statementId` (not voided) or `voidedStatementId` (voided)."""
        for name, voided in (("statementId", False), ("voidedStatementId", True)):
            if name in query:
                statement_id = query[name][0]
                form = self.stored.get(statement_id)
                if form is None or (statement_id in self.voided) != voided:
                    raise Refused(404, f"no statement {statement_id}")
                return form
        raise Refused(400, "this stand-in answers GET statements by statementId only")

    def listed(self) -> int:
        """What a GET statements listing would hold: every statement but the voided ones."""
        return len(self.stored) - len(self.voided & self.stored.keys())


class RemoteLRS(LoopServer):
    """The stand-in on 127.0.0.1 (a free port); a context manager. `info` is how to reach it
    (LRSInfo, as the local LRS's: put bench/relay.py in front of it for a round trip)."""

    thread_name = "stand-in LRS"
    read_limit = _MAX_HEAD

    def __init__(self) -> None:
        super().__init__()
        self.username = "bench"
        self.password = secrets.token_urlsafe(16)
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        self._authorization = f"Basic {token}".encode()
        self.statements = Statements()
        self.requests = 0

    @property
    def info(self) -> LRSInfo:
        return LRSInfo(f"http://{LOOPBACK}:{self.port}{PREFIX}", self.username, self.password)

    def statements_count(self) -> int:
        return self.statements.listed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection between requests
                method, target, headers = _parse_head(head)
                length = headers.get(b"content-length")
                body = await reader.readexactly(int(length)) if length is not None else None
                self.requests += 1
                try:
                    status, answer = 200, self._answer(method, target, headers, body)
                except Refused as refused:
                    status, answer = refused.status, orjson.dumps({"message": str(refused)})
                writer.write(_response(status, answer))
                await writer.drain()
                if headers.get(b"connection", b"").lower() == b"close":
                    return
        except (ConnectionError, OSError, asyncio.LimitOverrunError, ValueError):
            return  # a broken or malformed connection: dropped
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()

    def _answer(
        self, method: bytes, target: str, headers: dict[bytes, bytes], body: bytes | None
    ) -> bytes:
        """The answer's JSON body (status 200), or Refused; `body` None: no Content-Length."""
        if headers.get(b"authorization") != self._authorization:
            raise Refused(401, "unknown credentials")
        if not headers.get(b"x-experience-api-version", b"").startswith(b"1.0."):
            raise Refused(400, "X-Experience-API-Version 1.0.x is required")
        parts = urlsplit(target)
        if parts.path == f"{PREFIX}about" and method == b"GET":
            return orjson.dumps({"version": ["1.0.3"]})
        if parts.path != f"{PREFIX}statements":
            raise Refused(404, f"no resource {parts.path}")
        if method == b"POST":
            if body is None:
                raise Refused(411, "a body needs a Content-Length")
            return orjson.dumps(self.statements.post(body))
        if method == b"GET":
            return self.statements.get(parse_qs(parts.query))
        raise Refused(405, f"{method.decode()} statements is not answered")


def _parse_head(head: bytes) -> tuple[bytes, str, dict[bytes, bytes]]:
    """Method, target and headers (names lower-cased) of a request's head; ValueError if it
    is not HTTP/1.1's."""
    request_line, *lines = head[:-4].split(b"\r\n")
    method, target, version = request_line.split(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError("not HTTP/1.x")
    headers: dict[bytes, bytes] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return method, target.decode("latin-1"), headers


def _response(status: int, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "Content-Type: application/json\r\n"
        "X-Experience-API-Version: 1.0.3\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body
