"""`adoptloop serve` as real processes: SIGTERM and resume, two processes on one store, logs.

Each test bounds its waits; none asserts how long anything took.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from adoptloop.cli.common import secret_values
from adoptloop.connectors.registry import Registry
from adoptloop.settings.model import load_settings
from tests.harness.lrs_server import LocalLRS
from tests.scheduler.serving import ADOPTLOOP, Serve, StoreWatch, demo_service, wait_until

pytestmark = [pytest.mark.slow]

FAST_STANDBY = """  cron: "0 3 * * *"
  standby_poll_seconds: 0.2
"""


def _secrets(config: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = secret_values(load_settings(config, Registry.from_entry_points()))
    assert len(found) >= 3  # actor key, LRS key and secret (and the database password)
    return found


def test_sigterm_checkpoints_the_run_and_the_next_start_resumes_it(
    tmp_path: Path,
    private_lrs: LocalLRS,
    monkeypatch: pytest.MonkeyPatch,
    store_watch: Callable[[str], StoreWatch],
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    config, env = demo_service(
        tmp_path / "config",
        store,
        schedule=FAST_STANDBY + "  delivery:\n    workers: 0\n",  # only the run delivers
        lrs=private_lrs,
        batch_size=5,
    )
    watch = store_watch(store)
    first = Serve.start(config, env, tmp_path / "first.log")
    try:
        # a fresh store: the latest nightly (03:00) never ran, so it is caught up at start
        wait_until(lambda: watch.outbox().get("delivered", 0) >= 5, "delivery under way")
        private_lrs.pause()  # the batch in flight now waits (503, retried) ...
        first.proc.send_signal(signal.SIGTERM)  # ... while SIGTERM arrives
        private_lrs.resume()  # the batch completes, then the run stops at the checkpoint
        assert first.proc.wait(timeout=120) == 0
    finally:
        first.ensure_stopped()

    (interrupted,) = watch.runs()
    assert interrupted["status"] == "interrupted"
    assert "SIGTERM" in interrupted["error"]
    assert watch.outbox().get("pending", 0) > 0

    second = Serve.start(config, env, tmp_path / "second.log")
    try:
        wait_until(lambda: watch.runs()[0]["status"] == "succeeded", "the resumed run")
        assert second.terminate() == 0
    finally:
        second.ensure_stopped()

    (resumed,) = watch.runs()
    assert (resumed["run_id"], resumed["attempts"]) == (interrupted["run_id"], 2)
    assert resumed["scheduled_for"] == interrupted["scheduled_for"]
    total = sum(watch.outbox().values())
    assert watch.outbox() == {"delivered": total}
    assert private_lrs.missing(watch.statement_ids()) == []  # every statement in the LRS

    events = first.events() + second.events()  # every line is JSON
    stopped = [
        e for e in first.events() if e["event"] == "run interrupted; the next start resumes it"
    ]
    assert [e["run_id"] for e in stopped] == [interrupted["run_id"]]
    pulled = [e for e in events if e["event"] == "pulled"]
    assert pulled
    assert all(
        {"run_id", "connector", "stream", "job", "scheduled_for"} <= set(e) for e in pulled
    ), "context is bound inside the job's thread"
    logs = first.log.read_text() + second.log.read_text()
    for secret in _secrets(config, env, monkeypatch):
        assert secret not in logs


def _leading(serve: Serve) -> bool:
    return any(e["event"] == "leading: this process schedules the runs" for e in serve.events())


def _standing_by(serve: Serve) -> bool:
    return any(e["event"].startswith("standby:") for e in serve.events())


def test_two_processes_on_postgresql_split_delivery_and_reclaim_a_killed_workers_rows(
    tmp_path: Path,
    postgres_url: str,
    private_lrs: LocalLRS,
    monkeypatch: pytest.MonkeyPatch,
    store_watch: Callable[[str], StoreWatch],
) -> None:
    schedule = FAST_STANDBY + (
        "  delivery:\n    workers: 2\n    poll_seconds: 0.2\n    lease_seconds: 3\n"
    )
    config, env = demo_service(
        tmp_path / "config", postgres_url, schedule=schedule, lrs=private_lrs, batch_size=5
    )
    watch = store_watch(postgres_url)
    a = Serve.start(config, env, tmp_path / "a.log")
    b: Serve | None = None
    try:
        wait_until(lambda: _leading(a), "A leads")
        b = Serve.start(config, env, tmp_path / "b.log")
        wait_until(lambda: _standing_by(b), "B stands by")
        a_id, b_id = a.holder(), b.holder()

        def both_delivered() -> bool:
            who = set(watch.delivered_by().values())
            return any(w.startswith(a_id) for w in who) and any(w.startswith(b_id) for w in who)

        wait_until(both_delivered, "both processes deliver")
        private_lrs.pause()  # batches in flight stay claimed
        orphaned: set[str] = set()  # what A holds when it is killed (read, then kill: no race
        # with B re-claiming the rows once their short lease has run out)

        def a_holds_rows() -> bool:
            held = {s for s, w in watch.claimed_pending().items() if w.startswith(a_id)}
            orphaned.clear()
            orphaned.update(held)
            return bool(held)

        wait_until(a_holds_rows, "A holds claimed rows")
        time.sleep(1.0)  # batches A sent before the pause finish; the ones after it hang
        wait_until(a_holds_rows, "A holds rows the paused LRS keeps waiting")
        a.kill()  # SIGKILL: no clean-up, its claims and locks are left behind
        private_lrs.resume()

        wait_until(lambda: _leading(b), "B takes over")
        wait_until(lambda: set(watch.outbox()) == {"delivered"}, "every statement delivered")
        wait_until(lambda: watch.runs()[0]["status"] == "succeeded", "the run resumed by B")
        assert b.terminate() == 0
    finally:
        a.ensure_stopped()
        if b is not None:
            b.ensure_stopped()

    (run,) = watch.runs()  # the scheduled run exists once, resumed by the standby
    assert (run["attempts"], run["holder"]) == (2, b_id)
    delivered_by = watch.delivered_by()
    total = len(delivered_by)
    assert watch.outbox() == {"delivered": total}
    assert private_lrs.missing(watch.statement_ids()) == []  # every statement in the LRS
    # the rows A held when it died were re-claimed by B after their lease and delivered once
    # (one A had already sent just as it was killed may show as A's: it is not an orphan)
    stuck = {s for s in orphaned if not delivered_by[s].startswith(a_id)}
    assert stuck
    assert all(delivered_by[s].startswith(b_id) for s in stuck)
    assert {w.split("/")[0] for w in delivered_by.values()} == {a_id, b_id}
    logs = a.log.read_text() + b.log.read_text()
    for secret in _secrets(config, env, monkeypatch):
        assert secret not in logs


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_scheduled_run_executes_once_and_a_standby_takes_over(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    store_watch: Callable[[str], StoreWatch],
) -> None:
    store = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    schedule = """  cron: "*/2 * * * * *"
  catch_up: false
  standby_poll_seconds: 0.2
  lock_lease_seconds: 3
"""
    config, env = demo_service(tmp_path / "config", store, schedule=schedule)
    watch = store_watch(store)
    a = Serve.start(config, env, tmp_path / "a.log")
    b: Serve | None = None

    def succeeded(holder: str) -> int:
        return sum(1 for r in watch.runs() if r["status"] == "succeeded" and r["holder"] == holder)

    try:
        wait_until(lambda: _leading(a), "A leads")
        b = Serve.start(config, env, tmp_path / "b.log")
        wait_until(lambda: _standing_by(b), "B stands by")
        a_id, b_id = a.holder(), b.holder()
        wait_until(lambda: succeeded(a_id) >= 3, "three scheduled runs on A")
        a.kill()
        wait_until(lambda: _leading(b), "B takes over")
        wait_until(lambda: succeeded(b_id) >= 2, "two scheduled runs on B")
        assert b.terminate() == 0
    finally:
        a.ensure_stopped()
        if b is not None:
            b.ensure_stopped()

    runs = watch.runs()
    assert {r["holder"] for r in runs} == {a_id, b_id}
    finished = [
        e["scheduled_for"]
        for serve in (a, b)
        for e in serve.events()
        if e["event"] == "run finished"
    ]
    assert len(finished) == len(set(finished)) >= 5  # each scheduled time ran once, anywhere
    ours = ("already done; skipped", "skipped: another process is running")
    skipped = [e for serve in (a, b) for e in serve.events() if e["event"] in ours]
    assert skipped == []  # the standby never even tried while A led
    assert json.loads(json.dumps(runs[-1]["counts"]))  # recorded per run


def test_run_stops_at_a_checkpoint_on_sigterm_with_exit_143_and_the_next_run_finishes(
    tmp_path: Path, private_lrs: LocalLRS, store_watch: Callable[[str], StoreWatch]
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    config, env = demo_service(tmp_path / "config", store, schedule=FAST_STANDBY, lrs=private_lrs)
    watch = store_watch(store)
    private_lrs.pause()  # the first batch waits in its retries
    run = subprocess.Popen(
        [str(ADOPTLOOP), "run", "--config", str(config)],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(watch.claimed_pending, "the deliver stage has a batch in flight")
        run.send_signal(signal.SIGTERM)
        private_lrs.resume()
        _, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 143, stderr
    (first,) = watch.runs()
    assert first["status"] == "interrupted"
    assert watch.outbox().get("pending", 0) > 0

    again = subprocess.run(
        [str(ADOPTLOOP), "run", "--config", str(config)],
        env={**os.environ, **env},
        capture_output=True,
        timeout=300,
        check=False,
    )

    assert again.returncode == 0, again.stderr
    total = sum(watch.outbox().values())
    assert watch.outbox() == {"delivered": total}
    assert private_lrs.missing(watch.statement_ids()) == []  # every statement in the LRS
