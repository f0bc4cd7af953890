"""What a run reports about each of its stages."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adoptloop.connectors.registry import Registry
from adoptloop.pipeline import run
from adoptloop.pipeline.run import Environment, run_pipeline
from adoptloop.settings.model import load_settings


def test_every_stage_logs_its_seconds_cpu_and_the_peak_rss_so_far(demo_config: Path) -> None:
    """Issue 17.2 (peak RSS per stage): each stage ends with a `stage done` event carrying its
    seconds, the process's CPU in it and the process's peak RSS so far, so the bench (and an
    operator) can see which stage raises the peak; each pulled stream's event carries its CPU
    too, part of the pull stage's (bench/run.py weighs the CRM streams' against the source's)."""
    registry = Registry.from_entry_points()
    env = Environment.open(load_settings(demo_config, registry), registry)
    try:
        with capture_logs() as logs:
            result = run_pipeline(env)
    finally:
        env.engine.dispose()
    done = {e["stage"]: e for e in logs if e["event"] == "stage done"}
    assert list(done) == [s for s in result.counts if isinstance(result.counts[s], dict)]
    assert {"pull", "states", "translate", "deliver", "adoption"} <= set(done)
    peaks = [done[s]["peak_rss_mb"] for s in done]
    assert peaks == sorted(peaks)  # a high-water mark only rises
    assert peaks[0] > 0
    for stage, event in done.items():
        assert event["seconds"] == result.counts[stage]["seconds"]
        assert event["cpu_seconds"] >= 0
    pulled = [e for e in logs if e["event"] == "pulled"]
    assert {e["connector"] for e in pulled} >= {"lms", "crm"}
    assert all(e["cpu_seconds"] >= 0 for e in pulled)
    assert sum(e["cpu_seconds"] for e in pulled) <= done["pull"]["cpu_seconds"] + 0.001 * len(
        pulled
    )
    assert done["pull"]["cpu_seconds"] > 0


def test_each_stage_that_succeeds_gives_back_the_memory_it_no_longer_uses(
    demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (flat memory): the run's threads share one malloc arena (glibc's M_ARENA_MAX),
    and after each stage the idle SQLite connection's page cache is freed and the C heap
    trimmed (malloc_trim), so the next stage's connections and threads do not add their
    memory on top of what the last one left. The store stays usable:
    the run's later stages read what the earlier ones wrote."""
    shrunk: list[str] = []
    trims: list[int] = []
    options: list[tuple[int, int]] = []
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(run, "_MALLOPT", lambda *option: options.append(option))
    monkeypatch.setattr(run, "shrink_idle", lambda engine: shrunk.append(engine.dialect.name))
    monkeypatch.setattr(run, "_MALLOC_TRIM", trims.append)
    registry = Registry.from_entry_points()
    env = Environment.open(load_settings(demo_config, registry), registry)
    try:
        result = run_pipeline(env)
    finally:
        env.engine.dispose()
    stages = [s for s in result.counts if isinstance(result.counts[s], dict)]
    assert shrunk == ["sqlite"] * len(stages)
    assert trims == [0] * len(stages)
    assert options == [(-8, 1)]  # M_ARENA_MAX: the run's threads share one malloc arena
    assert result.status == "succeeded"


_PARENT = """
import subprocess, sys
held = bytearray(400 * 2**20)
for i in range(0, len(held), 4096):
    held[i] = 1
del held  # the parent's high-water mark stays at 400 MB and more
child = "from adoptloop.pipeline.run import _peak_rss_mb; print(_peak_rss_mb())"
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux's /proc only")
def test_the_peak_rss_is_the_runs_own_not_the_process_that_started_it() -> None:
    """Issue 17 (peak RSS per stage, growing <= 10 %): Linux carries a parent's high-water
    mark into its child's ru_maxrss across fork and exec, so a run started by a process that
    once held 400 MB (the bench, having generated a 50k-rep org in its own process) reported
    that as its own peak; the run reports its own address space's high-water mark (VmHWM)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _PARENT], capture_output=True, text=True, check=True, timeout=120
    )
    peak = float(done.stdout.strip())
    assert 0 < peak < 300, peak  # importing the pipeline takes well under 300 MB; 400+ inherited
