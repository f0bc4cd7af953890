"""A remote LRS stand-in: the statements API of an LRS on its own hardware, at little CPU.

The serve-node measurement (bench/serve_nodes.py) asks whether a second `adoptloop serve` node
adds delivery throughput. A customer's LRS is a hosted service on machines of its own, tens of
milliseconds away: its CPU is not the nodes'. The tests' local LRS (Learning Locker's statement
service, tests/harness/lrs_server.py) validates every statement strictly at ~0.35-0.4 ms of CPU
each, on the same two cores as the nodes it is to measure: one node keeps it at ~100 % of a
core, so a second node cannot add, whatever the nodes do (bench/RESULTS.md, "two `serve` nodes
against an LRS reached over a network"). This stand-in answers the requests adoptloop makes the
way an LRS does, at a small fraction of that CPU (its process's CPU is measured beside the
nodes': `lrs_cpu_seconds`), so that what bounds the nodes is the nodes, the round trip
(bench/relay.py in front of it) and the shared store:

- `POST {endpoint}statements` with a JSON array (or one statement): each needs a string `id`
  (adoptloop sends ids) and one id may appear once in a batch, else 400. A batch is stored
  whole or not at all: one id the LRS holds with other content refuses it with 409; an id held
  with the same content (`stored`, `authority` and `version` aside) is stored once, as a
  re-send after a crash. 200 with the batch's ids. A voiding statement (verb `.../voided`,
  object a StatementRef) voids its target, stored already or later; voiding a voiding
  statement is refused (400).
- `GET {endpoint}statements?statementId=ID` (a voided one: `voidedStatementId=ID`): the stored
  statement, else 404 (what `LRSClient` asks after a 409); `GET {endpoint}about`.
- HTTP Basic credentials and the `X-Experience-API-Version` header (1.0 or 1.0.x) are
  required (401, 400); HTTP/1.1 keep-alive; a body needs a `Content-Length` (411). A request
  it cannot parse gets 400, a failure of its own 500 (and its traceback on stderr); both
  close the connection.
- Statements are kept in memory, each as compact JSON with sorted keys (compared for a
  conflict, returned by GET); the listing's size (every stored statement but the voided ones,
  what a GET statements query would return) is `GET /bench/listed`, for the bench.

It does not validate statements (the tests' strict LRS does: tests/pipeline, tests/xapi) and
answers no query but by id. `RemoteLRS` serves in a thread of the calling process
(bench/loop_server.py; the tests use it so); the bench runs it in a process of its own
(`RemoteLRSProcess`, `python -m bench.remote_lrs`), so that it shares no interpreter lock with
the relay and its CPU is counted apart:

    with RemoteLRSProcess() as lrs:
        httpx.post(lrs.info.endpoint + "statements", auth=(lrs.info.username, ...), ...)
        lrs.statements_count()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
from tests.harness.lrs_server import LRSInfo
from tests.harness.process import ServerProcess

from bench.loop_server import LOOPBACK, LoopServer

PREFIX = "/xAPI/"
LISTED = "/bench/listed"  # the bench's own question: how many statements a listing holds
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
USERNAME = "bench"
_IGNORED_ON_COMPARE = ("stored", "authority", "version")  # set by an LRS, not the sender
_MAX_HEAD = 64 * 1024  # bytes of request line and headers
_START_TIMEOUT = 30.0
_READY = re.compile(r"^remote LRS stand-in listening on (http://\S+)$", re.MULTILINE)
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    500: "Internal Server Error",
}


class Refused(Exception):
    """A request answered with an error status (and a message as its JSON body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _voids(statement: dict[str, Any]) -> str | None:
    """The id a voiding statement voids, else None."""
    verb, target = statement.get("verb"), statement.get("object")
    if (
        isinstance(verb, dict)
        and verb.get("id") == VOIDED
        and isinstance(target, dict)
        and target.get("objectType") == "StatementRef"
    ):
        return str(target.get("id"))
    return None


class Statements:
    """The stored statements (by id, compact JSON with sorted keys) and the voided ids."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self._compared: dict[str, bytes] = {}  # the form compared: without an LRS's own keys
        self._voiding: set[str] = set()  # ids of voiding statements
        self.voided: set[str] = set()

    def post(self, body: bytes) -> list[str]:
        """Store a POSTed batch (all or nothing); its ids, in order."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Refused(400, f"the body is not JSON: {exc}") from None
        batch = parsed if isinstance(parsed, list) else [parsed]
        incoming: dict[str, tuple[bytes, bytes, str | None]] = {}
        for statement in batch:
            if not isinstance(statement, dict) or not isinstance(statement.get("id"), str):
                raise Refused(400, "a statement without an id")
            statement_id = statement["id"]
            if statement_id in incoming:
                raise Refused(400, f"statement {statement_id} appears twice in the batch")
            compared = orjson.dumps(
                {k: v for k, v in statement.items() if k not in _IGNORED_ON_COMPARE},
                option=orjson.OPT_SORT_KEYS,
            )
            held = self._compared.get(statement_id)
            if held is not None and held != compared:
                raise Refused(409, f"statement {statement_id} is stored with other content")
            target = _voids(statement)
            if target is not None and (
                target in self._voiding or (target in incoming and incoming[target][2] is not None)
            ):
                raise Refused(400, f"statement {statement_id} voids a voiding statement")
            form = orjson.dumps(statement, option=orjson.OPT_SORT_KEYS)
            incoming[statement_id] = (form, compared, target)
        for statement_id, (form, compared, target) in incoming.items():
            if statement_id in self.stored:
                continue
            self.stored[statement_id] = form
            self._compared[statement_id] = compared
            if target is not None:
                self._voiding.add(statement_id)
                self.voided.add(target)
        return list(incoming)

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
    """The stand-in on 127.0.0.1 (a free port), in a thread of this process; a context
    manager. `info` is how to reach it (LRSInfo, as the local LRS's: put bench/relay.py in
    front of it for a round trip)."""

    thread_name = "remote LRS stand-in"
    read_limit = _MAX_HEAD

    def __init__(self, password: str | None = None) -> None:
        super().__init__()
        self.username = USERNAME
        self.password = password or secrets.token_urlsafe(16)
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        self._authorization = f"Basic {token}".encode()
        self.statements = Statements()
        self.requests = 0
        self.connections = 0

    @property
    def info(self) -> LRSInfo:
        return LRSInfo(f"http://{LOOPBACK}:{self.port}{PREFIX}", self.username, self.password)

    def statements_count(self) -> int:
        return self.statements.listed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            return  # the client went away, between requests or within one
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request and its answer; whether the connection serves another."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return False  # closed between requests
        keep = True
        try:
            method, target, headers, keep = _parse_head(head)
            length = headers.get(b"content-length")
            body = await reader.readexactly(int(length)) if length is not None else None
            self.requests += 1
            status, answer = 200, self._answer(method, target, headers, body)
        except Refused as refused:
            status, answer = refused.status, orjson.dumps({"message": str(refused)})
        except (ValueError, asyncio.LimitOverrunError) as exc:
            status, answer, keep = 400, orjson.dumps({"message": f"malformed: {exc}"}), False
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            raise
        except Exception as exc:  # noqa: BLE001 - answered, not a silent hang of the client
            traceback.print_exc(file=sys.stderr)
            status, answer, keep = 500, orjson.dumps({"message": repr(exc)}), False
        if status == 411:
            keep = False  # its body, if any, was not read
        writer.write(_response(status, answer, keep=keep))
        await writer.drain()
        return keep

    def _answer(
        self, method: bytes, target: str, headers: dict[bytes, bytes], body: bytes | None
    ) -> bytes:
        """The answer's JSON body (status 200), or Refused; `body` None: no Content-Length."""
        if headers.get(b"authorization") != self._authorization:
            raise Refused(401, "unknown credentials")
        parts = urlsplit(target)
        if parts.path == LISTED and method == b"GET":
            return orjson.dumps({"listed": self.statements.listed()})
        version = headers.get(b"x-experience-api-version", b"")
        if version != b"1.0" and not version.startswith(b"1.0."):
            raise Refused(400, "X-Experience-API-Version 1.0.x is required")
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


def _parse_head(head: bytes) -> tuple[bytes, str, dict[bytes, bytes], bool]:
    """Method, target, headers (names lower-cased) of a request's head, and whether the
    connection stays open after it (HTTP/1.1 without `Connection: close`); ValueError if it is
    not HTTP/1.x."""
    request_line, *lines = head[:-4].split(b"\r\n")
    method, target, version = request_line.split(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError("not HTTP/1.x")
    headers: dict[bytes, bytes] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
    return method, target.decode("latin-1"), headers, keep


def _response(status: int, body: bytes, *, keep: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "Content-Type: application/json\r\n"
        "X-Experience-API-Version: 1.0.3\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{'' if keep else 'Connection: close' + chr(13) + chr(10)}\r\n"
    )
    return head.encode("latin-1") + body


# --- in a process of its own -------------------------------------------------------------------


class RemoteLRSStartupError(RuntimeError):
    """The stand-in's process died or did not say it was listening in time."""


class RemoteLRSProcess(ServerProcess):
    """The stand-in in a child process (`python -m bench.remote_lrs`), with the test servers'
    lifecycle (tests/harness/process.py: its log, process group, readiness and stop); `info`,
    `pid` and `statements_count()`, as the local LRS's harness has."""

    display_name = "the remote LRS stand-in"
    log_label = "remote LRS stand-in"
    log_name = "remote-lrs.log"
    startup_error = RemoteLRSStartupError

    def __init__(self, *, startup_timeout: float = _START_TIMEOUT) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.password = secrets.token_urlsafe(16)
        self._info: LRSInfo | None = None

    @property
    def info(self) -> LRSInfo:
        if self._info is None:
            raise RuntimeError("the remote LRS stand-in is not running")
        return self._info

    def start(self) -> Self:
        if self.running:
            return self
        workspace = self._make_workspace("adoptloop-remote-lrs-")
        repo = str(Path(__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH")
        self._spawn(
            [sys.executable, "-m", "bench.remote_lrs"],
            cwd=workspace,
            env={
                **os.environ,
                "PYTHONPATH": f"{repo}{os.pathsep}{path}" if path else repo,
                "ADOPTLOOP_BENCH_LRS_PASSWORD": self.password,
            },
            stdin=subprocess.DEVNULL,
        )
        try:
            endpoint = self._wait_until(self._listening)
        except RemoteLRSStartupError:
            self.stop()
            raise
        self._info = LRSInfo(endpoint, USERNAME, self.password)
        return self

    def _listening(self) -> str | None:
        found = _READY.search(self.read_log() or "")
        return found.group(1) if found else None

    def statements_count(self) -> int:
        """What a GET statements listing would hold (every stored statement but the voided)."""
        base = urlsplit(self.info.endpoint)
        response = httpx.get(
            f"{base.scheme}://{base.netloc}{LISTED}",
            auth=(self.info.username, self.info.password),
            timeout=30,
        )
        response.raise_for_status()
        return int(response.json()["listed"])

    def stop(self) -> None:
        self._info = None
        super().stop()


def main() -> int:
    """Serve until SIGTERM; says on stdout where it listens once it does."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with RemoteLRS(os.environ.get("ADOPTLOOP_BENCH_LRS_PASSWORD")) as lrs:
        print(f"remote LRS stand-in listening on {lrs.info.endpoint}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
