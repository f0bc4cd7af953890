"""Nothing lost, nothing duplicated: a killed run, and an LRS that is down for a while."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.harness.lrs_server import LocalLRS, LRSInfo
from tests.pipeline.test_deliver_to_lrs import _point_at_lrs, statement_ids

pytestmark = pytest.mark.slow


def _adoptloop(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "adoptloop.cli", "run", "--config", str(config)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _outbox(config: Path) -> tuple[int, int]:
    """(statements made, statements the LRS confirmed)."""
    path = config.parent / "state" / "demo.db"
    if not path.exists():
        return 0, 0
    db = sqlite3.connect(path, timeout=30)
    try:
        made, delivered = db.execute(
            "SELECT count(*), coalesce(sum(state = 'delivered'), 0) FROM outbox"
        ).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return 0, 0
    finally:
        db.close()
    return int(made), int(delivered)


def _small_batches(config: Path) -> None:
    config.write_text(config.read_text().replace("batch_size: 400", "batch_size: 25"))


def test_a_run_killed_during_delivery_loses_and_duplicates_nothing(
    demo_config: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    lrs, info = local_lrs
    env = _point_at_lrs(demo_config, info)
    _small_batches(demo_config)
    process = _adoptloop(demo_config, env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        made, delivered = _outbox(demo_config)
        if made and 0 < delivered < made // 2:
            break
        assert process.poll() is None, "the run ended before it could be killed mid-delivery"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    made, delivered = _outbox(demo_config)
    assert 0 < delivered < made

    finish = _adoptloop(demo_config, env)
    _, stderr = finish.communicate(timeout=300)
    assert finish.returncode == 0, stderr.decode()[-2000:]
    made, delivered = _outbox(demo_config)
    assert delivered == made
    assert lrs.holds(statement_ids(demo_config))


def test_an_lrs_outage_keeps_statements_queued_until_it_recovers(
    demo_config: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    lrs, info = local_lrs
    env = _point_at_lrs(demo_config, info)
    demo_config.write_text(
        demo_config.read_text().replace(
            "batch_size: 400", "batch_size: 400\n    max_retry_seconds: 2"
        )
    )
    lrs.pause()
    down = _adoptloop(demo_config, env)
    _, stderr = down.communicate(timeout=300)
    assert down.returncode == 0, stderr.decode()[-2000:]  # ends cleanly, nothing delivered
    made, delivered = _outbox(demo_config)
    assert made > 0
    assert delivered == 0
    assert b"delivery paused" in stderr
    lrs.resume()
    assert lrs.statements_count() == 0

    up = _adoptloop(demo_config, env)
    _, stderr = up.communicate(timeout=300)
    assert up.returncode == 0, stderr.decode()[-2000:]
    assert _outbox(demo_config) == (made, made)
    assert lrs.holds(statement_ids(demo_config))


def test_a_short_outage_during_delivery_is_ridden_out_by_retries(
    demo_config: Path, local_lrs: tuple[LocalLRS, LRSInfo]
) -> None:
    lrs, info = local_lrs
    env = _point_at_lrs(demo_config, info)
    _small_batches(demo_config)
    process = _adoptloop(demo_config, env)
    deadline = time.monotonic() + 120
    while _outbox(demo_config)[1] == 0:
        assert process.poll() is None, "the run ended before delivery could be interrupted"
        assert time.monotonic() < deadline, "delivery never started"
        time.sleep(0.02)
    lrs.pause()
    threading.Timer(2.5, lrs.resume).start()
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()[-2000:]
    made, delivered = _outbox(demo_config)
    assert delivered == made
    assert lrs.holds(statement_ids(demo_config))
