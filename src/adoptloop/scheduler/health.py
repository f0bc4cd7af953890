"""Operational status: what `adoptloop status` prints, the status file and the health endpoint.

One report, built from the store (and, under `serve`, the process's own state):

- last runs per job with per-stage durations, and whether the last one failed;
- per source: the last successful pull and whether the data is stale;
- the outbox backlog (pending, oldest pending) and the quarantine grouped by reason.

`ok` is false when a job's last run failed, a source is stale, statements wait for the LRS
longer than the staleness limit, or the process lost its scheduler lock. The HTTP endpoint
answers `/healthz` (the process is alive: 200) and `/status` (the report: 200 when ok, else
503), on 127.0.0.1 by default.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from adoptloop.pipeline.outcome import source_problems
from adoptloop.settings.model import Settings
from adoptloop.store import cursors, outbox, quarantine, runs, source_reads
from adoptloop.store.db import StoreUnavailable, reading

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = structlog.get_logger(__name__)

_RUNS_SCANNED = 500
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_IDENTIFIER = re.compile(
    r"\b(?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]+\b|\b\d{5,}\b"
)


@dataclass
class NodeState:
    """What a `serve` process adds to the report."""

    holder: str
    role: str = "starting"  # starting | standby | leader | stopping
    started_at: str = ""
    jobs: list[dict[str, Any]] = field(default_factory=list)
    health_url: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "pid": os.getpid(),
            "role": self.role,
            "started_at": self.started_at,
            "jobs": self.jobs,
            "health_url": self.health_url,
        }


def reason_kind(reason: str) -> str:
    """A quarantine reason without the values that make it unique, to group by."""
    return _IDENTIFIER.sub("<id>", _QUOTED.sub("'…'", reason))


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _hours(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else round((now - since).total_seconds() / 3600, 2)


def build_report(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    node: NodeState | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    problems: list[str] = list(node.problems) if node else []
    with reading(engine) as conn:
        recent = runs.recent_runs(conn, limit=_RUNS_SCANNED)
        cursor_updated = cursors.updated_by_source(conn)
        box = outbox.counts(conn)
        oldest_pending = outbox.oldest_pending(conn)
        quarantined = quarantine.counts_by_reason(conn)
        reads = source_reads.latest_reads(conn)

    last_runs: dict[str, dict[str, Any]] = {}
    pulled: dict[str, str] = {}
    api_use: dict[str, dict[str, Any]] = {}  # source -> its latest run's API figures
    for run in recent:
        counts = run["counts"]
        if run["pipeline"] not in last_runs:
            last_runs[run["pipeline"]] = {
                "run_id": run["run_id"],
                "status": run["status"],
                "scheduled_for": run["scheduled_for"],
                "started_at": run["started_at"],
                "finished_at": run["finished_at"],
                "attempts": run["attempts"],
                "error": run["error"],
                "stages": {
                    name: stage.get("seconds")
                    for name, stage in counts.items()
                    if isinstance(stage, dict)
                },
            }
        for source, streams in counts.get("pull", {}).items():
            if source != "seconds" and source not in pulled:
                pulled[source] = run["finished_at"] or run["started_at"]
            usage = streams.get("(api)") if isinstance(streams, dict) else None
            if isinstance(usage, dict) and source not in api_use:
                api_use[source] = {"run_id": run["run_id"], **usage}
    for pipeline, last in sorted(last_runs.items()):
        if last["status"] == "failed":
            problems.append(f"the last {pipeline} run failed: {last['error']}")
    limits = {n: c.max_rejected_share for n, c in settings.sources.items() if c.enabled}
    problems += source_problems(reads, limits)

    health = settings.schedule.health
    sources: dict[str, dict[str, Any]] = {}
    for name, config in sorted(settings.sources.items()):
        if not config.enabled:
            continue
        override = settings.schedule.sources.get(name)
        limit = (override.stale_after_hours if override else None) or health.stale_after_hours
        read = reads.get(name)
        # the last read to the end; a store from before v4 has no reads yet: the runs say
        last_pull = read.complete_at if read is not None else pulled.get(name)
        age = _hours(_parse(last_pull), now)
        stale = age is None or age > limit
        sources[name] = {
            "last_success": last_pull,
            "last_complete_run": read.complete_run_id if read is not None else None,
            "age_hours": age,
            "stale_after_hours": limit,
            "stale": stale,
            "cursor_updated_at": cursor_updated.get(name),
            "read": read.lines if read is not None else None,
            "used": read.used if read is not None else None,
            "quarantined": read.quarantined if read is not None else None,
            "held_back": read.held_back if read is not None else None,
            "rejected_share": round(read.rejected_share, 4) if read is not None else None,
            "stopped": read.stopped_reason if read is not None else None,
            "api": api_use.get(name),
        }
        if last_pull is None:
            problems.append(f"source {name} was never pulled successfully")
        elif stale:
            problems.append(f"source {name}: data is {age} hours old (limit {limit})")

    target = settings.delivery.target
    pending_age = _hours(_parse(oldest_pending), now)
    if target == "lrs" and pending_age is not None and pending_age > health.stale_after_hours:
        problems.append(f"statements have waited for the LRS for {pending_age} hours")

    by_reason: dict[tuple[str, str, str], int] = defaultdict(int)
    for source, stream, reason, n in quarantined:
        by_reason[(source, stream, reason_kind(reason))] += n
    return {
        "ok": not problems,
        "problems": problems,
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "node": node.as_dict() if node else None,
        "last_runs": last_runs,
        "sources": sources,
        "outbox": {
            "target": target,
            "pending": box.get(outbox.PENDING, 0),
            "delivered": box.get(outbox.DELIVERED, 0),
            "rejected": box.get(outbox.REJECTED, 0),
            "oldest_pending": oldest_pending,
            "oldest_pending_hours": pending_age,
        },
        "quarantine": {
            "open": sum(by_reason.values()),
            "by_reason": [
                {"source": s, "stream": st, "reason": r, "count": n}
                for (s, st, r), n in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        },
    }


def dumps(report: dict[str, Any]) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_status_file(path: Path, report: dict[str, Any]) -> None:
    """Atomically: a monitor never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(dumps(report))
    tmp.replace(path)


class HealthServer:
    """A tiny HTTP server in a daemon thread: /healthz and /status."""

    def __init__(self, host: str, port: int, report: Callable[[], dict[str, Any]]) -> None:
        self._report = report
        handler = self._handler()
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        report = self._report

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/healthz":
                    self._send(HTTPStatus.OK, b'{"alive": true}\n')
                elif self.path.rstrip("/") == "/status":
                    try:
                        body = report()
                    except StoreUnavailable as exc:
                        body = {
                            "ok": False,
                            "problems": [f"the store cannot be read: {exc.cause}"],
                        }
                    code = HTTPStatus.OK if body.get("ok") else HTTPStatus.SERVICE_UNAVAILABLE
                    self._send(code, dumps(body))
                else:
                    self._send(HTTPStatus.NOT_FOUND, b'{"error": "try /healthz or /status"}\n')

            def _send(self, code: HTTPStatus, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no access log: monitors poll often

        return Handler


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
