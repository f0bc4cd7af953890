"""Benchmark: a full sync, an incremental sync, adoption and delivery of a synthetic org.

    .venv/bin/python -m bench.run --reps 50000          # one size (about 10 minutes)
    .venv/bin/python -m bench.run                       # 1k, 10k and 50k reps
    .venv/bin/python -m bench.run --quick               # 1k reps, small delivery sample
    .venv/bin/python -m bench.run --reps 10000 --store postgresql

For each size:
1. `bench/generate.py` writes the org: HRIS and LMS as file drops, the CRM as the records of a
   fake Salesforce (Veeva) org, served over HTTPS by `bench/fake_salesforce.py` in its own
   process (its memory and CPU are not the pipeline's).
2. Full sync: `adoptloop run` (the real command, in a child process) on an empty store; time
   by stage and by source stream (from the JSON log), statements/s of the translate stage
   (build + validate + serialize + store), peak RSS of the process, store size, Salesforce
   API calls.
   Then, in the same run (bench/baselines.py): the pull's requests replayed by a bare loop
   (`pull_vs_bare_fetch`), and the kernel and a naive pipeline over the records the run
   translated (`translate_vs_kernel`, `translate_vs_naive`).
3. Incremental: 1% of the coaching reports and parent calls are edited in the org, then
   `adoptloop run` again, the org's clock a day later; time as a share of the full run,
   Salesforce API calls made. Then once more the next night with nothing changed
   (`unchanged`: its Salesforce API calls, target <= 10).
4. Adoption: the `states` stage (the state machine over every rating) plus the `adoption`
   stage (metrics, CSV, HTML report) of the full run.
5. Delivery: the first --deliver statements of the outbox sent to a real local LRS by the
   delivery workers (claims, client, retries), against the raw ceiling measured in the same
   run: the same payloads in the same batches posted by a bare httpx loop to a fresh LRS.
6. Serve nodes (--serve-nodes N, default 50,000; 0 skips): the first N outbox statements
   delivered by one `adoptloop serve`, then by two sharing the store, and what the LRS
   received (bench/serve_nodes.py), the LRS reached through a relay adding --lrs-latency-ms
   per round trip (default 50 ms, a hosted LRS; 0: directly on 127.0.0.1). The LRS (--lrs) is
   by default the remote LRS stand-in (bench/remote_lrs.py: an LRS on its own hardware, in a
   process of its own, answering the statements API at little CPU per statement), because the
   tests' local LRS spends ten times the nodes' CPU per statement on the same two cores and is
   then what one node already fills; `--lrs local` measures against it. With --quick the
   sample is 5,000 statements, a fraction of a second a measurement: the nodes' start and
   polling weigh in, so its ratio is coarse. Step 5 is the local LRS, not relayed.

--store postgresql puts each size's store on a PostgreSQL server the bench starts and stops
itself (bench/stores.py); the baselines' fresh stores are then databases on that server.

Prints one table and writes --out (bench/results/latest.json). Summary figures go into
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

from tests.harness.lrs_server import LocalLRS, lrs_available  # noqa: E402

from adoptloop.pipeline.deliver import DeliverCounts, deliver_batches, lrs_client  # noqa: E402
from adoptloop.store.claims import OutboxClaims  # noqa: E402
from adoptloop.store.db import open_store  # noqa: E402
from adoptloop.xapi.lrs import Outgoing  # noqa: E402
from bench import baselines, serve_nodes, stores  # noqa: E402
from bench.generate import generate, spec_for  # noqa: E402
from bench.synthetic.org import REPORTS_HEADER  # noqa: E402
from bench.table import TARGETS, print_table  # noqa: E402
from bench.xapi_bench import LRS_KINDS, lrs_settings, raw_ceiling_seconds  # noqa: E402

SIZES = (1_000, 10_000, 50_000)
AS_OF = "2026-06-30"
CHANGED_SHARE = 0.01
# statements the serve nodes deliver (step 6): at ~10,000-20,000/s through the stand-in LRS,
# a few seconds per measurement, so that the 20 ms polling and the nodes' start are small beside it
SERVE_SAMPLE = 50_000
NIGHT_HOURS = 24.0  # the fake org's clock moves on this much before each incremental run
CONFIG = """\
# written by bench/run.py
store:
{store}xapi:
  namespace: https://xapi.example-pharma.com/adoptloop
  actor:
    home_page: https://hr.example-pharma.com
    key: ${{file:actor-key.txt}}
capability_map: capabilities.yaml
sources:
  hris: {{type: file-people, path: hris/people.csv}}
  lms:
    type: file-completions
    path: lms/completions.csv
    identity:
      - {{attribute: user_email, person_field: email}}
  crm:
    type: salesforce
    auth: {{type: session, instance_url: "https://127.0.0.1:{port}", session_id: "${{file:sf-session.txt}}"}}
    timezone: Europe/London
    profile:
      coaching_reports:
        fields:
          submitted_at: Submitted_DateTime__c
          comments: [Comments__c]
          next_steps: [Agreed_Next_Steps__c]
      advanced_coaching_reports: null
  # The salesforce connector reads coaching reports and calls; development actions come as a
  # file drop (the generator's crm/development_actions.csv), identities from its users export.
  # file-coaching needs a reports file: the drop's is empty (the reports come from the org).
  crm-actions:
    type: file-coaching
    timezone: Europe/London
    users: {{path: crm/users.csv}}
    reports: {{path: crm/no-reports.csv}}
    actions: {{path: crm/development_actions.csv}}
delivery: {{target: store}}
adoption:
  as_of: {as_of}
  window_days: 90
  by: region
  output_dir: state/out
"""
SESSION = "00D5g000004ACME!AQbench.fake-session"
NAMESPACE = "https://xapi.example-pharma.com/adoptloop"
HOME_PAGE = "https://hr.example-pharma.com"
ACTOR_KEY = "bench-actor-key-0123456789abcdef"


# --- the fake Salesforce org ----------------------------------------------------------------


class FakeSalesforce:
    """bench/fake_salesforce.py in a child process: start, ask, stop."""

    def __init__(self, data: Path, work: Path) -> None:
        self.cert = work / "fake-sf.pem"
        self.log = (work / "fake-sf.log").open("w")
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.fake_salesforce",
                *("--data", str(data), "--cert", str(self.cert)),
            ],
            cwd=REPO,  # `-m bench.fake_salesforce` from the repository root
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the fake Salesforce did not start: {line!r}; see {self.log.name}")
        _, port, counts = line.split(" ", 2)
        self.port = int(port)
        self.records = json.loads(counts)
        self.load_seconds = time.perf_counter() - started
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._http = httpx.Client(base_url=self.base_url, verify=self.trust(), timeout=600)

    def trust(self) -> ssl.SSLContext:
        """A TLS context trusting the org's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def cpu_seconds(self) -> float:
        """The CPU the org's process has used so far (user + system): it shares the machine's
        cores with the run it answers."""
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._http.get("/bench/stats").raise_for_status().json()
        return result

    def requests(self, start: int, end: int) -> list[dict[str, Any]]:
        """The API requests the org received from `start` to `end` (as /bench/stats counts)."""
        result: list[dict[str, Any]] = (
            self._http.get(f"/bench/requests/{start}-{end}").raise_for_status().json()
        )
        return result

    def mutate(self, fraction: float) -> dict[str, int]:
        response = self._http.post("/bench/mutate", json={"fraction": fraction, "seed": 1})
        result: dict[str, int] = response.raise_for_status().json()
        return result

    def tick(self, hours: float) -> None:
        """The org's clock moves on (as between two nightly runs)."""
        self._http.post("/bench/tick", json={"hours": hours}).raise_for_status()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


# --- one `adoptloop run` ----------------------------------------------------------------------


class TreeMemory:
    """The resident memory of a process and all its descendants added up, sampled every
    `every` seconds in a thread of the bench while the process runs (its descendants looked
    up anew every `children_every` seconds, a scan of /proc): the most the run's processes
    (the run, the translate workers, the estimates process) held at once. Pages they share
    (the interpreter's, the libraries') count in each, so it errs high; a spike shorter than
    a sample can slip between two."""

    def __init__(self, pid: int, every: float = 0.1, children_every: float = 0.5) -> None:
        self._root = psutil.Process(pid)
        self._every, self._children_every = every, children_every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-memory", daemon=True)
        self.peak_mb = 0.0

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        processes = [self._root]
        looked = 0.0
        while not self._done.is_set():
            now = time.monotonic()
            if now - looked >= self._children_every:
                with contextlib.suppress(psutil.Error):
                    processes = [self._root, *self._root.children(recursive=True)]
                looked = now
            held = 0
            for process in processes:
                with contextlib.suppress(psutil.Error):  # one that ended since it was found
                    held += process.memory_info().rss
            self.peak_mb = max(self.peak_mb, held / 2**20)
            self._done.wait(self._every)


def run_adoptloop(config: Path, env: dict[str, str], store_url: str) -> dict[str, Any]:
    """`adoptloop run` in a child process: wall time, peak RSS, CPU, the stages and streams."""
    stderr = config.parent / f"run-{time.time_ns()}.log"
    started = time.perf_counter()
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "adoptloop.cli", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
        with TreeMemory(proc.pid) as tree:
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = stderr.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"adoptloop run failed ({proc.returncode}):\n{tail}")
    events = [json.loads(line) for line in stderr.read_text().splitlines() if line.startswith("{")]
    last = stores.last_run(store_url)
    # the run's own peak RSS at the end of each stage (the stage that raises it set it); the
    # whole run's is the last of them, not wait4's ru_maxrss, which Linux starts at this
    # process's own high-water mark (it carries across fork and exec: after generating a 50k
    # org here, every run reported at least what this process once held)
    done = [e for e in events if e.get("event") == "stage done"]
    by_stage = {e["stage"]: e["peak_rss_mb"] for e in done}
    # the translate stage's worker processes (their peaks added up: an upper bound of what
    # they held at once) beside the run process's peak at the end of that stage
    workers = {e["stage"]: e["workers_peak_rss_mb"] for e in done if "workers_peak_rss_mb" in e}
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": max(by_stage.values(), default=None),
        "peak_rss_mb_by_stage": by_stage,
        "workers_peak_rss_mb": workers,
        "peak_rss_mb_with_workers": max(
            (round(peak + workers.get(stage, 0.0), 1) for stage, peak in by_stage.items()),
            default=None,
        ),
        # what the run's processes held at once, sampled (TreeMemory)
        "peak_rss_mb_processes": round(tree.peak_mb, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "streams": _stream_seconds(events, last["stages"]),
        "streams_cpu_seconds": _stream_cpu(events),
        "stages_cpu_seconds": {e["stage"]: e["cpu_seconds"] for e in done if "cpu_seconds" in e},
        **last,
    }


def _pulled(event: dict[str, Any]) -> str:
    """A pulled stream's key in `streams` and `streams_cpu_seconds`."""
    return f"pull {event['connector']}.{event['stream']}"


def _stream_cpu(events: list[dict[str, Any]]) -> dict[str, float]:
    """The run process's CPU per pulled stream (the `pulled` events' cpu_seconds)."""
    return {
        _pulled(e): e["cpu_seconds"]
        for e in events
        if e.get("event") == "pulled" and "cpu_seconds" in e
    }


def _stream_seconds(events: list[dict[str, Any]], stages: dict[str, float]) -> dict[str, float]:
    """Seconds per pulled stream and per translated table, from the log's timestamps (the
    first of each stage: the stage's time less the others')."""
    out: dict[str, float] = {}
    keys: tuple[tuple[str, str, Callable[[dict[str, Any]], str]], ...] = (
        ("pull", "pulled", _pulled),
        ("translate", "translated", lambda e: f"translate {e['table']}"),
    )
    for stage, event_name, key in keys:
        found = [e for e in events if e.get("event") == event_name]
        times = [datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in found]
        spans = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        if found:
            rest = sum(spans)
            out[key(found[0])] = round(max(0.0, stages.get(stage, rest) - rest), 2)
            for event, span in zip(found[1:], spans, strict=True):
                out[key(event)] = round(span, 2)
    return out


# --- delivery ---------------------------------------------------------------------------------


def delivery(store_url: str, count: int, batch_size: int = 500) -> dict[str, Any]:
    """The first `count` outbox statements: the delivery workers vs a bare httpx loop."""
    reason = lrs_available()
    if reason:
        return {"skipped": reason}
    rows = stores.pending_payloads(store_url, count)
    payloads = [Outgoing(sid, payload.encode()) for sid, payload in rows]
    batches = [payloads[i : i + batch_size] for i in range(0, len(payloads), batch_size)]
    result: dict[str, Any] = {"statements": len(payloads), "batch_size": batch_size}
    raw_seconds = raw_ceiling_seconds(batches, timeout=300)
    engine = open_store(store_url)
    with LocalLRS() as lrs:  # a fresh LRS: the workers pay for storing, not for 200 re-sends
        settings = lrs_settings(lrs.info, batch_size, timeout=300)
        workers = settings.concurrency
        per_worker = -(-len(batches) // workers)
        started = time.perf_counter()
        with lrs_client(settings, "1.0.3") as client, ThreadPoolExecutor(workers) as pool:
            futures = [
                pool.submit(
                    deliver_batches,
                    OutboxClaims(engine, f"bench/{i}"),
                    client,
                    "bench-delivery",
                    batch_size=batch_size,
                    stop=threading.Event(),
                    max_batches=per_worker,
                )
                for i in range(workers)
            ]
            counts = DeliverCounts()
            for future in futures:
                counts.add(future.result())
        seconds = time.perf_counter() - started
    engine.dispose()
    raw_rate = len(payloads) / raw_seconds
    rate = counts.sent / seconds
    result.update(
        raw_ceiling_per_second=round(raw_rate),
        per_second=round(rate),
        ratio=round(rate / raw_rate, 3),
        stored=counts.stored,
        workers=workers,
    )
    return result


# --- one size -----------------------------------------------------------------------------------


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """The run's stages against the baselines measured in the same run (see bench/baselines.py):
    translate statements/s over the kernel's and the naive pipeline's, and the CRM pull's rows/s
    over a bare loop making the same requests (same rows, so: bare seconds / pull seconds)."""
    full, base = result["full"], result["baselines"]
    translate = full["statements_per_second"]
    crm_pull = sum(v for k, v in full["streams"].items() if k.startswith("pull crm."))

    def over(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    return {
        "translate_vs_kernel": over(translate, base["kernel"]["per_second"]),
        "translate_vs_naive": over(translate, base["naive"]["per_second"]),
        "pull_vs_bare_fetch": over(base["bare_fetch"]["seconds"], crm_pull),
    }


def pull_ceiling(result: dict[str, Any], cores: int) -> dict[str, Any]:
    """What the machine lets `pull_vs_bare_fetch` reach with the CPU the CRM pull and the org
    spent in this run: the pull's streams cannot take less wall time than their CPU and the
    org's CPU answering them shared out over the cores (nor than the run process's CPU if it
    ran on one core at a time, the GIL's bound), so bare seconds over the larger of those is
    the most the ratio can be without the pull spending less CPU (or the org, on a machine of
    its own, none of ours)."""
    full, bare = result["full"], result["baselines"]["bare_fetch"]
    crm = {
        k: v for k, v in full.get("streams_cpu_seconds", {}).items() if k.startswith("pull crm.")
    }
    org = full.get("org_cpu_seconds")
    if not crm or org is None:
        return {}
    pull_cpu = round(sum(crm.values()), 2)
    shared = (pull_cpu + org) / cores
    return {
        "crm_pull_cpu_seconds": pull_cpu,
        "org_cpu_seconds_pull": org,
        "org_cpu_seconds_bare_fetch": bare.get("org_cpu_seconds"),
        "cores": cores,
        "ceiling": round(bare["seconds"] / max(shared, pull_cpu), 3),
    }


def bench_size(
    reps: int,
    work: Path,
    store_kinds: stores.Stores,
    deliver_n: int,
    baseline_n: int | None,
    serve: serve_nodes.Options | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"reps": reps, "store": store_kinds.kind}
    org = work / f"org-{reps}"
    if org.exists():
        shutil.rmtree(org)
    started = time.perf_counter()
    spec = spec_for(reps)
    generated = generate(org, spec)
    result["generate"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "regions": len(spec.regions),
        "files": {
            "people": generated.people,
            "completions": generated.completions,
            "coaching_reports": generated.coaching_reports,
            "development_actions": generated.development_actions,
            "calls": generated.calls,
            "bad_rows": generated.bad_rows,
            "api_records": generated.api_records,
        },
    }
    print(f"[{reps}] generated in {result['generate']['seconds']} s", file=sys.stderr)
    (org / "actor-key.txt").write_text(ACTOR_KEY + "\n")
    (org / "crm" / "no-reports.csv").write_text(REPORTS_HEADER + "\n")
    (org / "sf-session.txt").write_text(SESSION + "\n")
    shutil.copy(REPO / "config" / "demo" / "capabilities.yaml", org / "capabilities.yaml")
    store = store_kinds.run_store(org)
    sf = FakeSalesforce(org / "salesforce", work)
    try:
        result["salesforce_org"] = {
            "records": sf.records,
            "load_seconds": round(sf.load_seconds, 1),
        }
        config = org / "adoptloop.yaml"
        config.write_text(CONFIG.format(store=store.config, port=sf.port, as_of=AS_OF))
        env = {**os.environ, "REQUESTS_CA_BUNDLE": str(sf.cert), "PYTHONHASHSEED": "0"}
        before, org_cpu = sf.stats(), sf.cpu_seconds()
        full = run_adoptloop(config, env, store.url)
        full["org_cpu_seconds"] = round(sf.cpu_seconds() - org_cpu, 2)
        after = sf.stats()
        full["salesforce_api_calls"] = after["api_calls"] - before["api_calls"]
        full.update(stores.store_facts(store_kinds, store.url))
        result["full"] = full
        print(f"[{reps}] full run {full['seconds']} s", file=sys.stderr)
        sent = sf.requests(before["requests"], after["requests"])
        org_cpu = sf.cpu_seconds()
        result["baselines"] = {"bare_fetch": baselines.bare_fetch(sf.base_url, sf.cert, sent)}
        result["baselines"]["bare_fetch"]["org_cpu_seconds"] = round(sf.cpu_seconds() - org_cpu, 2)
        changed = sf.mutate(CHANGED_SHARE)
        # the edits are made during the day, the run comes at night: a day later (not within
        # the connector's look-back of the last run, which would read them a second time)
        sf.tick(NIGHT_HOURS)
        before = sf.stats()["api_calls"]
        incremental = run_adoptloop(config, env, store.url)
        incremental["salesforce_api_calls"] = sf.stats()["api_calls"] - before
        incremental["changed"] = changed
        incremental["ratio"] = round(incremental["seconds"] / full["seconds"], 4)
        sync = ("pull", "translate", "deliver")  # states and adoption recompute everything
        incremental["sync_ratio"] = round(
            sum(incremental["stages"].get(s, 0) for s in sync)
            / sum(full["stages"].get(s, 0) for s in sync),
            4,
        )
        incremental["api_calls_ratio"] = round(
            incremental["salesforce_api_calls"] / full["salesforce_api_calls"], 4
        )
        result["incremental"] = incremental
        print(f"[{reps}] incremental run {incremental['seconds']} s", file=sys.stderr)
        sf.tick(NIGHT_HOURS)  # the next night, nothing edited since
        before = sf.stats()["api_calls"]
        unchanged = run_adoptloop(config, env, store.url)
        unchanged["salesforce_api_calls"] = sf.stats()["api_calls"] - before
        unchanged["ratio"] = round(unchanged["seconds"] / full["seconds"], 4)
        result["unchanged"] = unchanged
        print(f"[{reps}] unchanged run {unchanged['seconds']} s", file=sys.stderr)
    finally:
        sf.stop()
    ctx = baselines.context(org, NAMESPACE, HOME_PAGE, ACTOR_KEY)
    fresh = store_kinds.fresh
    result["baselines"]["kernel"] = baselines.kernel(store.url, ctx, fresh, baseline_n)
    print(f"[{reps}] kernel {result['baselines']['kernel']}", file=sys.stderr)
    result["baselines"]["naive"] = baselines.naive(store.url, ctx, fresh, baseline_n)
    print(f"[{reps}] naive {result['baselines']['naive']}", file=sys.stderr)
    result.update(ratios(result))
    result["pull_vs_bare_fetch_ceiling"] = pull_ceiling(result, len(os.sched_getaffinity(0)))
    stages = result["full"]["stages"]
    result["adoption"] = {
        "ratings": result["full"]["rows"]["ratings"],
        "states_seconds": stages.get("states"),
        "metrics_seconds": stages.get("adoption"),
        "seconds": round(stages.get("states", 0) + stages.get("adoption", 0), 2),
    }
    if deliver_n:
        result["delivery"] = delivery(store.url, deliver_n)
        print(f"[{reps}] delivery {result['delivery']}", file=sys.stderr)
    if serve is not None:
        result["serve_nodes"] = serve_nodes.measure(config, store.url, serve)
        result["serve_two_vs_one"] = result["serve_nodes"].get("serve_two_vs_one")
        result["serve_lrs_latency_ms"] = serve.lrs_latency_ms
        print(f"[{reps}] serve nodes {result['serve_nodes']}", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--quick", action="store_true", help="1,000 reps, 5,000 delivered")
    parser.add_argument("--deliver", type=int, default=20_000, help="statements; 0 skips")
    parser.add_argument(
        "--baseline-statements",
        type=int,
        default=None,
        help="statements the kernel and naive baselines make (default: all the run made)",
    )
    parser.add_argument(
        "--store",
        choices=stores.KINDS,
        default="sqlite",
        help="postgresql: on a server the bench starts (initdb in the work folder, binaries "
        "from ADOPTLOOP_TEST_POSTGRES_BINDIR), stopped at the end",
    )
    parser.add_argument(
        "--serve-nodes",
        type=int,
        default=SERVE_SAMPLE,
        metavar="N",
        help="also: N outbox statements delivered by one `adoptloop serve`, then by two at once "
        "(serve_two_vs_one); 0 skips",
    )
    parser.add_argument(
        "--serve-workers", type=int, default=2, help="delivery workers per serve process"
    )
    parser.add_argument(
        "--lrs-latency-ms",
        type=float,
        default=serve_nodes.DEFAULT_LRS_LATENCY_MS,
        metavar="MS",
        help="round trip added between the serve nodes (and their raw ceiling) and the LRS by "
        "bench/relay.py; 0 reaches the LRS directly (default: %(default)s, a hosted LRS)",
    )
    parser.add_argument(
        "--lrs-processes",
        type=int,
        default=1,
        metavar="K",
        help="local LRS processes behind the relay for the serve nodes, each new connection to "
        "the next (an LRS that scales out; they share this machine's cores)",
    )
    parser.add_argument(
        "--lrs",
        choices=LRS_KINDS,
        default=serve_nodes.DEFAULT_LRS,
        help="the serve nodes' LRS: remote, a stand-in for an LRS on its own hardware "
        "(bench/remote_lrs.py: little CPU per statement), or local, the tests' LRS processes "
        "(Learning Locker's statement service, on this machine's cores) (default: %(default)s)",
    )
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (not a PostgreSQL server)"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument(
        "--pipeline-src",
        type=Path,
        default=None,
        help="run `adoptloop run` from another source tree's src/ (for before/after figures)",
    )
    args = parser.parse_args(argv)
    if args.pipeline_src is not None:
        os.environ["PYTHONPATH"] = str(args.pipeline_src.resolve())
    sizes = [1_000] if args.quick else args.reps
    deliver_n = min(args.deliver, 5_000) if args.quick else args.deliver
    serve_n = min(args.serve_nodes, 5_000) if args.quick else args.serve_nodes
    work = args.work or Path(tempfile.mkdtemp(prefix="adoptloop-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.lrs_latency_ms < 0 or args.lrs_processes < 1:
        parser.error("--lrs-latency-ms must be >= 0 and --lrs-processes >= 1")
    if args.lrs_processes != 1 and args.lrs != "local":
        parser.error("--lrs-processes is for --lrs local (the remote stand-in is one process)")
    serve = (
        serve_nodes.Options(
            serve_n,
            args.serve_workers,
            lrs_latency_ms=args.lrs_latency_ms,
            lrs_processes=args.lrs_processes,
            lrs=args.lrs,
        )
        if serve_n
        else None
    )
    results = []
    try:
        with stores.open_stores(args.store, work) as store_kinds:
            for reps in sizes:
                results.append(
                    bench_size(reps, work, store_kinds, deliver_n, args.baseline_statements, serve)
                )
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    document = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "targets": TARGETS,
        "store": args.store,
        "runs": {str(r["reps"]): r for r in results},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print_table(results)
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
