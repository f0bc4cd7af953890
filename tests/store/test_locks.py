"""Locks in the store: one holder at a time across processes, free again when it ends."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text, update

from adoptloop.store import locks, schema
from adoptloop.store.db import open_store


def test_a_held_lock_refuses_a_second_holder_until_released(engine: Engine) -> None:
    first = locks.store_lock(engine, "run", holder="host:1:a", lease_seconds=60)
    second = locks.store_lock(engine, "run", holder="host:2:b", lease_seconds=60)

    assert first.try_acquire()
    assert first.try_acquire()  # ours already: still ours
    assert not second.try_acquire()
    assert first.renew()
    first.release()
    assert second.try_acquire()
    second.release()


def test_locks_with_different_names_do_not_block_each_other(engine: Engine) -> None:
    run = locks.store_lock(engine, locks.RUN, holder="a", lease_seconds=60)
    scheduler = locks.store_lock(engine, locks.SCHEDULER, holder="b", lease_seconds=60)

    assert run.try_acquire()
    assert scheduler.try_acquire()
    run.release()
    scheduler.release()


def test_hold_raises_run_in_progress_with_exit_status_75(engine: Engine) -> None:
    with (
        locks.hold(engine, locks.RUN, holder="a", lease_seconds=60),
        pytest.raises(locks.RunInProgress) as caught,
        locks.hold(engine, locks.RUN, holder="b", lease_seconds=60),
    ):
        pass  # pragma: no cover - never entered
    assert caught.value.exit_code == 75
    with locks.hold(engine, locks.RUN, holder="b", lease_seconds=60):
        pass


_HOLD_AND_DIE = """
import os, sys
from adoptloop.store import locks
from adoptloop.store.db import open_store
held = locks.store_lock(open_store(sys.argv[1]), "run", holder=locks.node_id(), lease_seconds=3600)
assert held.try_acquire()
print("held", flush=True)
os._exit(0)  # dies without releasing: no clean-up at all
"""


def test_a_lock_held_by_a_process_that_died_is_free(engine: Engine, store_url: str) -> None:
    """PostgreSQL frees the advisory lock with the session; SQLite sees the pid is gone."""
    done = subprocess.run(
        [sys.executable, "-c", _HOLD_AND_DIE, store_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "held", done.stderr

    after = locks.store_lock(engine, "run", holder=locks.node_id(), lease_seconds=60)
    deadline = time.monotonic() + 30  # PostgreSQL notices the closed socket asynchronously
    while not after.try_acquire():
        assert time.monotonic() < deadline, "the dead holder's lock was never freed"
        time.sleep(0.1)
    after.release()


def test_an_expired_lease_is_taken_over_on_sqlite(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path}/s.db")
    try:
        stale = locks.store_lock(engine, "run", holder="otherhost:1:x", lease_seconds=60)
        assert stale.try_acquire()
        with engine.begin() as conn:
            conn.execute(update(schema.locks).values(lease_until="2000-01-01T00:00:00.000000Z"))
        fresh = locks.store_lock(engine, "run", holder="here:2:y", lease_seconds=60)
        assert fresh.try_acquire()
        assert not stale.renew()  # the old holder learns it lost the lock
    finally:
        engine.dispose()


def test_a_kept_lock_reports_loss(engine: Engine) -> None:
    with locks.hold(engine, locks.RUN, holder="a", lease_seconds=1.5) as kept:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks "
                        "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
                    )
                )
        else:
            with engine.begin() as conn:
                conn.execute(update(schema.locks).values(holder="someone-else"))
        assert kept.lost.wait(30)
