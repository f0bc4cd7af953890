"""Benchmark: build, validate, serialize and deliver N xAPI statements.

    .venv/bin/python -m bench.xapi_bench --statements 100000 --deliver 20000

Stages, each timed on its own over the same statements, on one core:
- build: store-shaped rating rows -> statement drafts (the translators);
- validate: the strict xAPI 1.0.3 validator, as the translate stage runs it (Finalizer: the
  version stamp, then every statement checked, shared parts once);
- serialize: id + canonical JSON bytes (what the outbox stores);
- store: the statements appended to the outbox of a fresh SQLite store (outbox.enqueue, one
  commit per 20,000 statements, as the translate stage does);
- deliver: the first `--deliver` statements posted to a real local LRS by adoptloop's client,
  against a raw ceiling measured in the same run: the same pre-serialized batches posted to
  the same LRS by a bare httpx loop (same batch size, one connection, no retries).

Prints one table and writes bench/results/xapi.json. Figures go into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import queue
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.harness.lrs_server import LocalLRS, LRSInfo, lrs_available

from adoptloop.fields import LRSSettings, Resolved
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.mappings.records import StoredObservation
from adoptloop.mappings.translate import Draft, TranslateContext, translate_observation
from adoptloop.pipeline.deliver import lrs_client
from adoptloop.pipeline.translate import Finalizer
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store.db import open_store
from adoptloop.store.outbox import Queued, enqueue
from adoptloop.xapi.canonical import dumps
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.lrs import Outgoing
from adoptloop.xapi.vocab import Namespace
from bench.relay import DelayRelay, relayed
from bench.remote_lrs import RemoteLRSProcess
from bench.synthetic.apis import RATING_FIELDS

REPO = Path(__file__).resolve().parent.parent
ITEMS = RATING_FIELDS  # the demo capability map's coaching items


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def observations(
    capabilities: CapabilityMap,
) -> Iterator[StoredObservation]:
    """Endless synthetic counted observations with 3 ratings each: 4 statements apiece."""
    start = date(2026, 1, 5)
    i = 0
    while True:
        row: dict[str, Any] = {
            "source": "crm",
            "record_id": f"a1C{i:012d}",
            "observer_hr_id": f"M{i % 5000:05d}",
            "observed_hr_id": f"E{i % 50000:06d}",
            "visit_date": start + timedelta(days=i % 180),
            "timezone": "Europe/Berlin",
            "status": "Submitted",
            "counted": True,
            "submitted_at": None,
            "modified_at": None,
            "has_next_step": i % 2 == 0,
            "names_capability": i % 3 == 0,
            "word_count": 12,
            "deleted": False,
        }
        ratings = tuple(
            capabilities.rate(item, float(1 + (i + len(item)) % 5))
            for item in sorted(ITEMS[(i + k) % 6] for k in range(3))
        )
        yield StoredObservation(**row, ratings=ratings)
        i += 1


def context() -> TranslateContext:
    return TranslateContext(
        ns=Namespace("https://xapi.example-pharma.com/adoptloop"),
        actors=Pseudonymizer("https://hr.example-pharma.com", b"bench-key-0123456789abcdef"),
        capabilities=load_capability_map(REPO / "config" / "demo" / "capabilities.yaml"),
    )


CHUNK = 10_000
COMMIT = 20_000  # statements per transaction, as pipeline/translate.py commits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--deliver", type=int, default=20_000, help="0 skips delivery")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "xapi.json")
    args = parser.parse_args(argv)
    ctx = context()
    finalizer = Finalizer(ctx, "1.0.3")
    seconds = {"build": 0.0, "validate": 0.0, "serialize": 0.0, "store": 0.0}
    workdir = Path(tempfile.mkdtemp(prefix="adoptloop-xapi-bench-"))
    engine = open_store(f"sqlite:///{workdir / 'store.db'}")
    unstored: list[Queued] = []
    invalid = done = 0
    keep: list[Outgoing] = []  # the statements to deliver; the rest is dropped chunk by chunk
    source = observations(ctx.capabilities)
    while done < args.statements:
        started = time.perf_counter()
        drafts: list[Draft] = []
        while len(drafts) < min(CHUNK, args.statements - done):
            drafts.extend(translate_observation(next(source), ctx))
        drafts = drafts[: args.statements - done]
        seconds["build"] += time.perf_counter() - started

        started = time.perf_counter()
        ids = [finalizer.ids.statement(d.key, 1) for d in drafts]
        statements = [finalizer.stamped(i, d.body) for d, i in zip(drafts, ids, strict=True)]
        invalid += sum(bool(finalizer.problems(st)) for st in statements)
        seconds["validate"] += time.perf_counter() - started

        started = time.perf_counter()
        payloads = [dumps(st) for st in statements]
        seconds["serialize"] += time.perf_counter() - started

        started = time.perf_counter()
        unstored.extend(
            Queued(i, d.kind, p, d.hr_id) for d, i, p in zip(drafts, ids, payloads, strict=True)
        )
        if len(unstored) >= COMMIT or done + len(drafts) >= args.statements:
            with engine.begin() as conn:
                for offset in range(0, len(unstored), 500):
                    enqueue(conn, unstored[offset : offset + 500], "xapi-bench")
            unstored = []
        seconds["store"] += time.perf_counter() - started
        room = args.deliver - len(keep)
        keep.extend(Outgoing(i, p) for i, p in zip(ids[:room], payloads[:room], strict=True))
        done += len(drafts)

    results: dict[str, Any] = {
        "statements": done,
        "batch_size": args.batch_size,
        "invalid": invalid,
    }
    for stage, spent in seconds.items():
        results[stage] = {
            "seconds": round(spent, 3),
            "per_second": round(done / spent) if spent else None,
        }
    total = seconds["build"] + seconds["validate"] + seconds["serialize"]
    results["build_validate_serialize"] = {
        "seconds": round(total, 3),
        "per_second": round(done / total),
    }
    total += seconds["store"]
    results["build_validate_serialize_store"] = {
        "seconds": round(total, 3),
        "per_second": round(done / total),
    }
    engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    results["peak_rss_mb_before_delivery"] = round(peak_rss_mb(), 1)
    if args.deliver:
        reason = lrs_available()
        if reason:
            print(f"delivery skipped: {reason}", file=sys.stderr)
        else:
            deliver(keep, args.batch_size, results)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


def timed(label: str, results: dict[str, Any], count: int, started: float) -> None:
    record(label, results, count, time.perf_counter() - started)


def record(label: str, results: dict[str, Any], count: int, seconds: float) -> None:
    results[label] = {
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds) if seconds else None,
    }


LRS_KINDS = ("remote", "local")  # bench/remote_lrs.py's stand-in; the tests' LRS processes


@dataclass(frozen=True)
class ReachedLRS:
    """Fresh LRS processes (one address: the relay's, when there is one): the tests' local LRS
    processes, or the remote LRS stand-in (bench/remote_lrs.py)."""

    info: LRSInfo  # the endpoint clients use
    processes: list[LocalLRS] | list[RemoteLRSProcess]
    relay: DelayRelay | None

    def statements_count(self) -> int:
        """What the processes list, added (a statement voided by one stored in another process
        is listed)."""
        return sum(lrs.statements_count() for lrs in self.processes)


@contextlib.contextmanager
def reach_lrs(
    kind: str = "local", processes: int = 1, round_trip_ms: float = 0.0
) -> Iterator[ReachedLRS]:
    """A fresh LRS of `kind` (LRS_KINDS): `processes` local LRS processes (same credentials),
    or one remote LRS stand-in process, reached through bench/relay.py adding `round_trip_ms`
    (each new connection to the next process in turn), or directly when there is one process
    and no latency."""
    if kind not in LRS_KINDS:
        raise ValueError(f"unknown LRS kind {kind!r}: one of {', '.join(LRS_KINDS)}")
    with contextlib.ExitStack() as stack:
        started: list[LocalLRS] | list[RemoteLRSProcess] = (
            [stack.enter_context(RemoteLRSProcess())]
            if kind == "remote"
            else [stack.enter_context(LocalLRS()) for _ in range(processes)]
        )
        endpoints = [lrs.info.endpoint for lrs in started]
        endpoint, relay = stack.enter_context(relayed(endpoints, round_trip_ms))
        info = dataclasses.replace(started[0].info, endpoint=endpoint)
        yield ReachedLRS(info, started, relay)


def raw_ceiling_seconds(
    batches: list[list[Outgoing]],
    timeout: float,
    *,
    round_trip_ms: float = 0.0,
    connections: int = 1,
    lrs_processes: int = 1,
    lrs: str = "local",
) -> float:
    """Seconds a bare httpx loop (no retries) takes to post the pre-serialized batches to a
    fresh LRS (`lrs`: LRS_KINDS): the ceiling a client can reach on this machine. `connections` loops at
    once take the next batch in turn (as delivery workers do); see `reach_lrs` for the rest."""
    pending: queue.SimpleQueue[list[Outgoing]] = queue.SimpleQueue()
    for batch in batches:
        pending.put(batch)
    with reach_lrs(lrs, lrs_processes, round_trip_ms) as reached:
        info = reached.info
        endpoint = info.endpoint

        def loop() -> None:
            with httpx.Client(
                base_url=endpoint,
                auth=(info.username, info.password),
                headers={"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"},
                timeout=timeout,
            ) as raw:
                while True:
                    try:
                        batch = pending.get_nowait()
                    except queue.Empty:
                        return
                    body = b"[" + b",".join(s.payload for s in batch) + b"]"
                    raw.post("statements", content=body).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            for done in [pool.submit(loop) for _ in range(connections)]:
                done.result()
        return time.perf_counter() - started


def lrs_settings(info: LRSInfo, batch_size: int, timeout: float) -> LRSSettings:
    """adoptloop's delivery settings for a local LRS."""
    return LRSSettings.model_validate(
        {
            "endpoint": info.endpoint,
            "username": Resolved(info.username),
            "password": Resolved(info.password),
            "batch_size": batch_size,
            "timeout_seconds": timeout,
        }
    )


def deliver(payloads: list[Outgoing], batch_size: int, results: dict[str, Any]) -> None:
    batches = [payloads[i : i + batch_size] for i in range(0, len(payloads), batch_size)]
    record("raw_ceiling", results, len(payloads), raw_ceiling_seconds(batches, timeout=120))
    with LocalLRS() as lrs:  # a fresh LRS, so the client pays for storing, not for 200 re-sends
        settings = lrs_settings(lrs.info, batch_size, timeout=120)
        started = time.perf_counter()
        with lrs_client(settings, "1.0.3") as client:
            stored = sum(len(client.send(batch).stored) for batch in batches)
        timed("deliver", results, len(payloads), started)
        results["delivered"] = stored
    ceiling = results["raw_ceiling"]["per_second"]
    results["deliver_vs_ceiling"] = (
        round(results["deliver"]["per_second"] / ceiling, 3) if ceiling else None
    )


def print_table(results: dict[str, Any]) -> None:
    print(f"{'stage':<24}{'seconds':>10}{'statements/s':>15}")
    for stage in (
        "build",
        "validate",
        "serialize",
        "store",
        "build_validate_serialize",
        "build_validate_serialize_store",
        "raw_ceiling",
        "deliver",
    ):
        if stage in results:
            r = results[stage]
            print(f"{stage:<24}{r['seconds']:>10}{r['per_second'] or '-':>15}")
    if "deliver_vs_ceiling" in results:
        print(f"delivery / raw ceiling: {results['deliver_vs_ceiling']:.1%}")
    print(f"peak RSS: {results['peak_rss_mb']} MB   invalid statements: {results['invalid']}")


if __name__ == "__main__":
    raise SystemExit(main())
