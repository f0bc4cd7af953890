"""Delivery by `adoptloop serve` processes: one node, then two sharing the store at once.

bench/run.py --serve-nodes N, after the full and incremental runs (whose outbox holds every
statement they made, `delivery.target: store`):

1. The first N outbox rows (by seq) are the sample; every other pending row is held back (its
   state set to `bench-held`, no product state: no `serve` claims or scans it, so the nodes
   see an outbox of N pending rows, as in production) and made pending again at the end.
2. For one node, then for two: the sample is made pending again (held), a fresh LRS is
   started (each measurement pays for storing into an empty LRS): by default (`--lrs remote`)
   the remote LRS stand-in (bench/remote_lrs.py: an LRS on its own hardware, in a process of
   its own, answering the statements API at a small fraction of the local LRS's CPU per
   statement), or with `--lrs local` the tests' local LRS (tests/harness/lrs_server.py,
   Learning Locker's statement service, ~0.35-0.4 ms of CPU per statement on the nodes'
   cores), reached through bench/relay.py, which adds `--lrs-latency-ms` to every round trip
   (default 50 ms; 0 reaches the LRS directly), and that many `adoptloop serve` processes
   start on the same config and store, with `delivery.target: lrs`,
   `schedule.delivery.workers` workers each polling every 0.1 s, and no run to do (a yearly
   cron, no catch-up). Once every process has said whether it leads or stands by, the
   sample's lease is lifted in one transaction and the clock starts; it stops when no row of
   the sample is pending any more (the store is polled every 20 ms). Then each process gets
   SIGTERM.
3. What was sent twice is counted, not assumed: the statements each process says it sent (its
   "delivered" log events), the rows each process delivered (the outbox's `claimed_by`), and
   the statements the LRS holds (its GET /statements listing; a statement voided by a later
   one in the sample is not listed). `sent_twice` = statements sent - rows delivered.
   `lrs_connections`: the connections the relay saw (kept alive: nodes x workers).

`serve_two_vs_one` = the two nodes' statements/s over the one node's. `raw_ceiling_per_second`
is the bound both share: the sample posted in the same batches by a bare httpx loop to a
fresh LRS through the same relay (one client, no store), as the delivery step measures it;
`one_vs_raw_ceiling` near 1 means one node already sends as fast as this LRS stores (or, with
latency, as fast as one connection's round trips allow). `cpu_seconds_by_node` and
`lrs_cpu_seconds` are the processes' CPU in the measured window (the LRS processes' added,
the remote stand-in's too; `bench_cpu_seconds`: the relay and the polling, in this process): an
LRS process near one CPU second per second is the bound. `--lrs-processes K`
puts K local LRS processes behind the relay (each new connection to the next: an LRS that
scales out behind one address; `lrs_listed` adds their listings), on this machine's cores.
`raw_ceiling_per_second_by_connections` is the same with 1, one node's and two nodes' worth of
bare loops at once (each takes the next batch, as workers do): whether the LRS and the relay
could take what two nodes' connections would send.

Why 50 ms: a customer's LRS is a hosted service, usually in another data centre than the
`serve` nodes (tens to a hundred ms per round trip); there one node's rate is bounded by its
workers' round trips (one batch in flight per worker), not by the LRS, which scales on its own
side. The relay models latency only: no bandwidth limit, no TLS, no loss.

Why the remote LRS stand-in by default: the question is whether a second node adds what the first cannot
send, with the LRS elsewhere. The local LRS runs on the nodes' two cores and costs about ten
times their CPU per statement: one node already keeps it at a full core, at 50 ms as on
127.0.0.1 (`--lrs-latency-ms 0`), so with it the ratio shows the local LRS, not the nodes
(bench/RESULTS.md, "two `serve` nodes against an LRS reached over a network"). The stand-in
answers the same requests as an LRS (ids, whole-batch conflicts, voiding, credentials) at
little CPU (`lrs_cpu_seconds`), so what is left to bound two nodes is theirs: the round trips,
the shared store's claims, their CPU, the machine's two cores. It does not validate
statements; the tests deliver to the strict local LRS. At 50 ms each worker has one batch in
flight, so two nodes are also twice the connections: `raw_ceiling_per_second_by_connections`
shows what bare loops with as many connections reach through the same relay.

    .venv/bin/python -m bench.serve_nodes --config ORG/adoptloop.yaml \
        --store-url sqlite:////abs/ORG/state/store.db --statements 50000 [--lrs local] \
        [--lrs-latency-ms 0]

measures on an org a bench run kept (`bench.run --keep --work DIR`); it changes that store's
outbox as the bench does (the sample ends delivered): use a copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import yaml
from sqlalchemy import Engine, func, select, update
from tests.harness.lrs_server import LRSInfo, lrs_available

from adoptloop.store import outbox, schema
from adoptloop.store.db import open_store
from adoptloop.store.schema import stamp
from adoptloop.xapi.lrs import Outgoing
from bench.xapi_bench import LRS_KINDS, raw_ceiling_seconds, reach_lrs

HOLDER = "bench/held"  # not host:pid: no worker frees it as a dead process's claim
HELD = "bench-held"  # the state of the pending rows after the sample while the bench runs
FAR = stamp(datetime(9999, 1, 1, tzinfo=UTC))
READY = ("leading: this process schedules the runs", "standby: another process schedules")
POLL_SECONDS = 0.02


DEFAULT_LRS_LATENCY_MS = 50.0  # a cloud LRS in another region or provider; see the docstring
DEFAULT_LRS = "remote"  # bench/remote_lrs.py: an LRS whose CPU is not the nodes'; see the docstring


@dataclass(frozen=True)
class Options:
    statements: int
    workers: int = 2  # per process
    batch_size: int = 500
    timeout_seconds: float = 600.0
    lrs_latency_ms: float = DEFAULT_LRS_LATENCY_MS  # the round trip the relay adds; 0: direct
    lrs_processes: int = 1  # local LRS processes behind the relay, a connection to each in turn
    lrs: str = DEFAULT_LRS  # LRS_KINDS: the remote LRS stand-in, or the tests' local LRS


def measure(config: Path, store_url: str, options: Options) -> dict[str, Any]:
    """One node, then two, delivering the same sample; see the module's docstring."""
    reason = lrs_available() if options.lrs == "local" else None
    if reason:
        return {"skipped": reason}
    engine = open_store(store_url)
    try:
        last_seq = _hold_all_but_sample(engine, options.statements)
        if last_seq is None:
            return {"skipped": "the outbox is empty"}
        by_connections = {
            str(n): _raw_ceiling(engine, last_seq, options, connections=n)
            for n in sorted({1, options.workers, 2 * options.workers})
        }
        result: dict[str, Any] = {
            "lrs": options.lrs,
            "lrs_latency_ms": options.lrs_latency_ms,
            "lrs_processes": options.lrs_processes if options.lrs == "local" else None,
            "workers_per_node": options.workers,
            "batch_size": options.batch_size,
            "raw_ceiling_per_second": by_connections["1"],
            "raw_ceiling_per_second_by_connections": by_connections,
        }
        for nodes, key in ((1, "one"), (2, "two")):
            result[key] = _deliver_with(config, engine, last_seq, nodes, options)
            print(f"  serve nodes: {nodes} -> {result[key]}", file=sys.stderr)
        one, two = result["one"].get("per_second"), result["two"].get("per_second")
        result["serve_two_vs_one"] = round(two / one, 3) if one and two else None
        ceiling = result["raw_ceiling_per_second"]
        result["one_vs_raw_ceiling"] = round(one / ceiling, 3) if one and ceiling else None
        return result
    finally:
        _release_held(engine)
        engine.dispose()


# --- the sample --------------------------------------------------------------------------------


def _hold_all_but_sample(engine: Engine, count: int) -> int | None:
    """The sample's last seq; every pending row after it is HELD. (Leased, they stayed pending:
    each idle worker's claim and dead-claim check then read every one of them, at 10k reps
    356k rows, ~0.4 CPU-s per poll, on the cores the LRS needs.)"""
    t = schema.outbox
    with engine.begin() as conn:
        seqs = list(conn.execute(select(t.c.seq).order_by(t.c.seq).limit(count)).scalars())
        if not seqs:
            return None
        conn.execute(
            update(t).where((t.c.seq > seqs[-1]) & (t.c.state == outbox.PENDING)).values(state=HELD)
        )
    return int(seqs[-1])


def _reset_sample(engine: Engine, last_seq: int) -> int:
    """The sample pending again (as the full run left it), held until the clock starts."""
    t = schema.outbox
    with engine.begin() as conn:
        return conn.execute(
            update(t)
            .where(t.c.seq <= last_seq)
            .values(
                state=outbox.PENDING,
                delivered_at=None,
                error=None,
                claimed_by=HOLDER,
                lease_until=FAR,
            )
        ).rowcount


def _release_held(engine: Engine) -> None:
    t = schema.outbox
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.state == HELD).values(state=outbox.PENDING))
        conn.execute(
            update(t).where(t.c.claimed_by == HOLDER).values(claimed_by=None, lease_until=None)
        )


def _raw_ceiling(engine: Engine, last_seq: int, options: Options, connections: int) -> int:
    """The sample posted in the same batches by bare httpx loops (`connections` at once) to a
    fresh LRS through the same relay (statements/s): what a client reaches on this LRS at
    this latency (bench/xapi_bench.py)."""
    batch_size = options.batch_size
    t = schema.outbox
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.statement_id, t.c.payload).where(t.c.seq <= last_seq).order_by(t.c.seq)
        ).all()
    payloads = [Outgoing(r.statement_id, r.payload.encode()) for r in rows]
    batches = [payloads[i : i + batch_size] for i in range(0, len(payloads), batch_size)]
    seconds = raw_ceiling_seconds(
        batches,
        timeout=300,
        round_trip_ms=options.lrs_latency_ms,
        connections=connections,
        lrs_processes=options.lrs_processes,
        lrs=options.lrs,
    )
    return round(len(payloads) / seconds)


# --- one measurement -------------------------------------------------------------------------


def _deliver_with(
    config: Path, engine: Engine, last_seq: int, nodes: int, options: Options
) -> dict[str, Any]:
    sample = _reset_sample(engine, last_seq)
    t = schema.outbox
    in_sample = t.c.seq <= last_seq
    with reach_lrs(options.lrs, options.lrs_processes, options.lrs_latency_ms) as lrs:
        serve_config = write_serve_config(config, lrs.info, options, f"serve-{nodes}")
        with _serving(serve_config, nodes, options.timeout_seconds) as (logs, pids):
            watched = [_tree(pid) for pid in pids]
            watched.append([p for server in lrs.processes for p in _tree(server.pid)])
            cpu_before = [_cpu_seconds(tree) for tree in watched]
            own_before = time.process_time()
            with engine.begin() as conn:
                conn.execute(update(t).where(in_sample).values(claimed_by=None, lease_until=None))
            started = time.perf_counter()
            deadline = started + options.timeout_seconds
            pending = sample
            while pending and time.perf_counter() < deadline:
                time.sleep(POLL_SECONDS)
                with engine.connect() as conn:
                    pending = conn.execute(
                        select(func.count()).where(in_sample & (t.c.state == outbox.PENDING))
                    ).scalar_one()
            seconds = time.perf_counter() - started
            own_cpu = time.process_time() - own_before
            cpu = [
                round(_cpu_seconds(tree) - before, 2)
                for tree, before in zip(watched, cpu_before, strict=True)
            ]
        sent = {f"node{i + 1}": _sent(log) for i, log in enumerate(logs)}
        listed = lrs.statements_count()
    with engine.connect() as conn:
        by_worker = conn.execute(
            select(t.c.claimed_by, func.count())
            .where(in_sample & (t.c.state == outbox.DELIVERED))
            .group_by(t.c.claimed_by)
        ).all()
    delivered_by: Counter[str] = Counter()
    for worker, n in by_worker:
        delivered_by[str(worker).rpartition("/w")[0]] += int(n)
    delivered = sum(delivered_by.values())
    result: dict[str, Any] = {
        "nodes": nodes,
        "statements": sample,
        "seconds": round(seconds, 2),
        "per_second": round(delivered / seconds) if not pending else None,
        "delivered": delivered,
        "delivered_by_node": sorted(delivered_by.values(), reverse=True),
        "sent": sum(sent.values()),
        "sent_twice": sum(sent.values()) - delivered,
        "lrs_listed": listed,
        # CPU seconds in the measured window: each serve process, then the LRS processes
        # together (one core at most each: Node.js); LRS CPU near `seconds` per process means
        # the LRS is the bound.
        "cpu_seconds_by_node": cpu[:-1],
        "lrs_cpu_seconds": cpu[-1],
        "bench_cpu_seconds": round(own_cpu, 2),  # this process: the relay and the polling
    }
    if lrs.relay is not None:
        result["lrs_connections"] = lrs.relay.stats.connections  # kept alive: nodes x workers
    if pending:
        result["error"] = f"{pending} statements still pending after {options.timeout_seconds} s"
    return result


def write_serve_config(config: Path, lrs: LRSInfo, options: Options, name: str) -> Path:
    """The bench's config with delivery to the LRS and a `schedule:` that runs nothing."""
    data = yaml.safe_load(config.read_text())
    folder = config.parent
    (folder / "lrs-username.txt").write_text(lrs.username + "\n")
    (folder / "lrs-password.txt").write_text(lrs.password + "\n")
    data["delivery"] = {
        "target": "lrs",
        "lrs": {
            "endpoint": lrs.endpoint,
            "username": "${file:lrs-username.txt}",
            "password": "${file:lrs-password.txt}",
            "batch_size": options.batch_size,
            "timeout_seconds": 300,
        },
    }
    data["schedule"] = {
        "cron": "0 0 1 1 *",
        "catch_up": False,
        "standby_poll_seconds": 60,
        "delivery": {"workers": options.workers, "poll_seconds": 0.1},
        "health": {"status_file": None},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextlib.contextmanager
def _serving(config: Path, nodes: int, timeout: float) -> Iterator[tuple[list[Path], list[int]]]:
    """`nodes` serve processes, ready (leading or standing by); SIGTERM at the end. Yields
    their log files (JSON lines) and process ids."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    logs = [config.parent / f"{config.stem}-node{i + 1}.log" for i in range(nodes)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for log in logs:
            with log.open("wb") as err:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "adoptloop.cli", "serve", "--config", str(config)],
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                        env=env,
                    )
                )
        deadline = time.monotonic() + min(timeout, 120)
        for proc, log in zip(procs, logs, strict=True):
            while not any(line in log.read_text(errors="replace") for line in READY):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"adoptloop serve did not start ({log}):\n{tail}")
                time.sleep(0.05)
        yield logs, [proc.pid for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tree(pid: int | None) -> list[psutil.Process]:
    """A process and its children (as they are now)."""
    if pid is None:
        return []
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _cpu_seconds(tree: list[psutil.Process]) -> float:
    total = 0.0
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def _sent(log: Path) -> int:
    """Statements one serve process sent (its "delivered" log events)."""
    total = 0
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "delivered":
                total += int(event.get("sent", 0))
    return total


def main(argv: list[str] | None = None) -> int:
    """The measurement alone, on an org a bench run kept (`bench.run --keep --work DIR`)."""
    import argparse  # noqa: PLC0415 - only the command line needs it

    parser = argparse.ArgumentParser(description="serve nodes: one, then two (see the docstring)")
    parser.add_argument("--config", type=Path, required=True, help="the org's adoptloop.yaml")
    parser.add_argument("--store-url", required=True, help="its store (sqlite:///... absolute)")
    parser.add_argument("--statements", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=Options.workers)
    parser.add_argument("--batch-size", type=int, default=Options.batch_size)
    parser.add_argument("--lrs-latency-ms", type=float, default=DEFAULT_LRS_LATENCY_MS)
    parser.add_argument("--lrs-processes", type=int, default=1)
    parser.add_argument("--lrs", choices=LRS_KINDS, default=DEFAULT_LRS)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.lrs_processes != 1 and args.lrs != "local":
        parser.error("--lrs-processes is for --lrs local (the remote stand-in is one process)")
    options = Options(
        args.statements,
        args.workers,
        args.batch_size,
        lrs_latency_ms=args.lrs_latency_ms,
        lrs_processes=args.lrs_processes,
        lrs=args.lrs,
    )
    result = measure(args.config, args.store_url, options)
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
