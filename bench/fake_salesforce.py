"""The fake Salesforce org of the tests, served over real HTTP on 127.0.0.1 for the benchmark.

    .venv/bin/python -m bench.fake_salesforce --data ORG/salesforce [--port 0]

Loads the `salesforce/<SObject>.jsonl` files that `bench/generate.py` writes into the fake org
of `tests/connectors/crm/salesforce/fake_org.py` and answers through the same request handlers as
in the tests (`fake_api.install`): SOQL evaluated for real, REST paging by nextRecordsUrl, Bulk
API 2.0 jobs, the deleted-records endpoint, Sforce-Limit-Info on every answer. Prints
`READY <port>` once it listens. It runs in its own process so that its memory (every record of
the org as a dict) and its CPU are not counted as the pipeline's.

Only what large orgs need is added here, never a change of semantics:
- indexes narrow the records a query is evaluated on (by Id / Parent_Call_vod__c for `IN`
  lookups, by a sorted SystemModstamp list for windows); every candidate is still checked
  with the fake's own SOQL evaluator, so the answer is the same as a full scan's;
- Bulk jobs render their rows page by page instead of all at once;
- the benchmark's own endpoints under /bench/: `GET /bench/stats` (API calls by kind, and
  `requests`: how many API requests it has logged), `GET /bench/requests/<from>-<to>` (those
  logged requests as they came: method, path and query, headers, body; the bench replays them
  for its bare-fetch baseline) and
  `POST /bench/mutate` ({"fraction": 0.01, "seed": 1}: edit that share of the coaching reports
  and parent calls, stamping them with the current time, as users editing in Veeva would) and
  `POST /bench/tick` ({"hours": 24}: the org's clock moves on, as between two nightly runs).

simple-salesforce only speaks https, so the server answers TLS with a self-signed certificate
for 127.0.0.1, written to --cert (PEM); a client trusts it through REQUESTS_CA_BUNDLE. The
session id the connector must send is read from --session-file (default: a fixed string).
"""

from __future__ import annotations

import argparse
import base64
import bisect
import contextlib
import csv
import functools
import io
import ipaddress
import random
import re
import socket
import ssl
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.connectors.crm.salesforce import fake_api, payloads, soql
from tests.connectors.crm.salesforce.fake_org import (
    INSTANCE,
    FakeOrg,
    Record,
    _cell,
    _dig,
    _Job,
    stamp,
)

SESSION = "00D5g000004ACME!AQbench.fake-session"
RATING_FIELDS = {  # the synthetic org rates six capabilities; the test org describes two
    "Needs_Assessment_Rating__c": ("double", None),
    "Clinical_Data_Rating__c": ("double", None),
    "Closing_Rating__c": ("double", None),
    "Compliance_Rating__c": ("double", None),
    "Submitted_DateTime__c": ("datetime", None),
}
INDEXED = ("Parent_Call_vod__c",)  # besides Id: fields the connector looks records up by
Callback = Callable[[requests.PreparedRequest], tuple[int, dict[str, str], str]]

# Stored SystemModstamps repeat a lot; parsing each once keeps full-window scans cheap.
soql.sf_ts = functools.lru_cache(maxsize=500_000)(soql.sf_ts)  # type: ignore[assignment]


@dataclass
class _LazyJob(_Job):
    query: soql.Query | None = None


def _bounds(node: Any) -> tuple[datetime | None, datetime | None]:
    """A [low, high] SystemModstamp range that contains every record matching `node`."""
    if node is None:
        return None, None
    kind = node[0]
    if kind == "cmp" and node[1] == "SystemModstamp" and isinstance(node[3], datetime):
        op, at = node[2], node[3]
        if op in (">", ">="):
            return at, None
        if op in ("<", "<="):
            return None, at
        if op == "=":
            return at, at
        return None, None
    if kind in ("and", "or"):
        (lo1, hi1), (lo2, hi2) = _bounds(node[1]), _bounds(node[2])
        if kind == "and":
            lo = lo1 if lo2 is None else lo2 if lo1 is None else max(lo1, lo2)
            hi = hi1 if hi2 is None else hi2 if hi1 is None else min(hi1, hi2)
            return lo, hi
        lo = None if lo1 is None or lo2 is None else min(lo1, lo2)
        hi = None if hi1 is None or hi2 is None else max(hi1, hi2)
        return lo, hi
    return None, None


def _keyed(node: Any, indexed: set[str]) -> tuple[str, list[Any]] | None:
    """(field, values) of an indexed `field IN (...)` / `field = v` that `node` requires."""
    if node is None:
        return None
    if node[0] == "in" and node[1] in indexed:
        return node[1], list(node[2])
    if node[0] == "cmp" and node[2] == "=" and node[1] in indexed and node[3] is not None:
        return node[1], [node[3]]  # `field = null` is no lookup: the index leaves out nulls
    if node[0] == "and":
        return _keyed(node[1], indexed) or _keyed(node[2], indexed)
    return None


@dataclass
class ScaleOrg(FakeOrg):
    """The test org with indexes (see the module docstring); same answers, less scanning."""

    _stamps: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _fields: dict[str, dict[str, dict[Any, list[str]]]] = field(default_factory=dict)

    def build_indexes(self, sobjects: list[str] | None = None) -> None:
        for sobject in sobjects or list(self.tables):
            table = self.tables[sobject]
            stamps = sorted((str(r.get("SystemModstamp") or ""), rid) for rid, r in table.items())
            self._stamps[sobject] = stamps
            by_field: dict[str, dict[Any, list[str]]] = {}
            for name in INDEXED:
                if name in payloads.OBJECTS.get(sobject, {}):
                    index: dict[Any, list[str]] = defaultdict(list)
                    for rid, r in table.items():
                        if r.get(name) is not None:
                            index[r[name]].append(rid)
                    by_field[name] = dict(index)
            self._fields[sobject] = by_field

    def _candidates(self, sobject: str, where: Any) -> list[Record]:
        table = self.tables.get(sobject, {})
        keyed = _keyed(where, {"Id", *self._fields.get(sobject, {})})
        if keyed is not None:
            field, values = keyed
            if field == "Id":
                ids = [str(v) for v in values if str(v) in table]
            else:
                index = self._fields[sobject][field]
                ids = [rid for v in values for rid in index.get(v, ())]
            return [table[rid] for rid in dict.fromkeys(ids)]
        low, high = _bounds(where)
        stamps = self._stamps.get(sobject)
        if stamps is None or (low is None and high is None):
            return list(table.values())
        start, end = 0, len(stamps)
        if low is not None:  # whole seconds, so the candidates are a superset
            start = bisect.bisect_left(stamps, (f"{low.astimezone(UTC):%Y-%m-%dT%H:%M:%S}",))
        if high is not None:
            end = bisect.bisect_right(stamps, (f"{high.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.999~",))
        return [table[rid] for _, rid in stamps[start:end]]

    def create_job(self, text: str) -> str:
        query, rows = self.run(text, include_deleted=True)
        job_id = f"7505g0000{len(self._jobs):06d}AAA"
        self._jobs[job_id] = _LazyJob(rows, query.fields, self.job_polls, query)
        return job_id

    def job_csv(self, job: _Job, offset: int, size: int) -> tuple[str, str | None, int]:
        """As the base class, rendering only this page's records."""
        if not isinstance(job, _LazyJob) or job.query is None:
            return super().job_csv(job, offset, size)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(job.fields)
        chunk = job.rows[offset : offset + size]
        for record in chunk:
            row = self.render(job.query, record)
            writer.writerow([_cell(_dig(row, f)) for f in job.fields])
        following = offset + size
        locator = base64.b64encode(str(following).encode()).decode().rstrip("=")
        return out.getvalue(), (locator if following < len(job.rows) else None), len(chunk)

    # --- the benchmark's edits ------------------------------------------------------------

    def mutate(self, fraction: float, seed: int) -> dict[str, int]:
        """Edit `fraction` of the coaching reports (one rating) and of the parent calls (type)."""
        rng = random.Random(seed)
        self.now = datetime.now(UTC)
        changed: dict[str, int] = {}
        reports = self.tables.get("Coaching_Report_vod__c", {})
        ids = sorted(reports)
        for rid in rng.sample(ids, round(len(ids) * fraction)):
            record = reports[rid]
            rated = [f for f in sorted(record) if f.endswith("_Rating__c") and record[f]]
            if rated:
                field = rated[rng.randrange(len(rated))]
                value = record[field]
                record[field] = value % 5 + 1 if isinstance(value, int) and value <= 5 else 3
            self._touch(record)
        changed["Coaching_Report_vod__c"] = round(len(ids) * fraction)
        calls = self.tables.get("Call2_vod__c", {})
        parents = sorted(rid for rid, r in calls.items() if r.get("Is_Parent_Call_vod__c"))
        for rid in rng.sample(parents, round(len(parents) * fraction)):
            record = calls[rid]
            record["Call_Type_vod__c"] = (
                "Group Detail"
                if record.get("Call_Type_vod__c") != "Group Detail"
                else "Detail Only"
            )
            self._touch(record)
        changed["Call2_vod__c"] = round(len(parents) * fraction)
        self.build_indexes(list(changed))
        return changed

    def stats(self) -> dict[str, Any]:
        kinds: Counter[str] = Counter()
        for method, path, _query in self.log:
            tail = path.split("/services/data/", 1)[-1].split("/", 1)[-1]
            kind = re.sub(r"/.*", "", tail)
            kinds[f"{method} {kind}"] += 1
        return {"api_calls": self.api_used, "by_kind": dict(sorted(kinds.items()))}


class _Routes:
    """Collects what `fake_api.install` registers, in the shape of `responses.add_callback`."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Callback]] = []

    def add_callback(
        self, method: str, url: re.Pattern[str], *, callback: Callback, content_type: Any = None
    ) -> None:
        del content_type
        self.routes.append((method, url, callback))


def serve(org: ScaleOrg, port: int) -> ThreadingHTTPServer:
    routes = _Routes()
    fake_api.install(org, routes)  # type: ignore[arg-type]
    lock = threading.Lock()
    # every API request as it came (method, path and query, headers, body), for the bench's
    # bare-fetch baseline, which replays a run's requests and discards the answers
    replay: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add 40 ms to every answer
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            # one Date header, the org's clock where the API answers (fake_api's `served`):
            # send_response would add the machine's as a second, and a client reading the
            # server's time from it would get neither
            self.send_response_only(status)
            if not any(key.lower() == "date" for key in headers):
                self.send_header("Date", self.date_time_string())
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            if self.path.startswith("/bench/"):
                with lock:
                    self._admin(method, data)
                return
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
            }
            with lock:
                replay.append(
                    {"method": method, "path": self.path, "headers": headers, "body": data.decode()}
                )
            request = requests.Request(
                method, INSTANCE + self.path, headers=dict(self.headers), data=data or None
            ).prepare()
            url = str(request.url)
            for route_method, pattern, callback in routes.routes:
                if route_method == method and pattern.match(url):
                    with lock:
                        status, headers, body = callback(request)
                    self._answer(status, headers, body.encode())
                    return
            self._answer(404, {"Content-Type": "application/json"}, b'[{"errorCode":"NOT_FOUND"}]')

        def _admin(self, method: str, data: bytes) -> None:
            if method == "GET" and self.path == "/bench/stats":
                body = orjson.dumps({**org.stats(), "requests": len(replay)})
            elif method == "GET" and self.path.startswith("/bench/requests/"):
                start, end = (int(n) for n in self.path.rsplit("/", 1)[-1].split("-"))
                body = orjson.dumps(replay[start:end])
            elif method == "POST" and self.path == "/bench/mutate":
                args = orjson.loads(data or b"{}")
                body = orjson.dumps(org.mutate(float(args["fraction"]), int(args.get("seed", 1))))
            elif method == "POST" and self.path == "/bench/tick":
                args = orjson.loads(data or b"{}")
                body = orjson.dumps({"now": stamp(org.tick(hours=float(args["hours"])))})
            else:
                self._answer(404, {}, b"")
                return
            self._answer(200, {"Content-Type": "application/json"}, body)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def self_signed(cert: Path, key: Path) -> None:
    """A throwaway certificate for 127.0.0.1 (and localhost), valid for a day."""
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the salesforce/ folder")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--session-file", type=Path, default=None)
    parser.add_argument("--cert", type=Path, required=True, help="where to write the PEM cert")
    args = parser.parse_args(argv)
    for sobject, fields in (("Coaching_Report_vod__c", RATING_FIELDS),):
        payloads.OBJECTS[sobject].update(fields)
    org = ScaleOrg(now=datetime.now(UTC), api_limit=5_000_000, job_polls=0)
    session = args.session_file.read_text().strip() if args.session_file else SESSION
    org.tokens.add(session)
    counts = org.load(args.data)
    org.build_indexes()
    server = serve(org, args.port)
    key = args.cert.with_suffix(".key")
    self_signed(args.cert, key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"READY {server.server_address[1]} {orjson.dumps(counts).decode()}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
