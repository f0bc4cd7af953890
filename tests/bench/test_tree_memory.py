"""Issue 17 (peak RSS, counted honestly): bench/run.py samples what the run's processes hold
at once, the run's own process and every process below it (the translate workers, the
estimates process), not only the run's."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.run import TreeMemory

HELD_MB = 200
# a parent that holds next to nothing, whose child holds HELD_MB until its stdin closes
_PARENT = f"""
import subprocess, sys
subprocess.run([sys.executable, "-c",
    "import sys; held = b'x' * ({HELD_MB} * 2**20); sys.stdin.read()"], check=True)
"""


def test_the_memory_of_a_run_s_processes_is_sampled_below_its_own_process() -> None:
    """A process holding little whose child holds 200 MB: the sampled peak of the tree is at
    least the child's 200 MB (the root alone never comes near it)."""
    proc = subprocess.Popen([sys.executable, "-c", _PARENT], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        with TreeMemory(proc.pid, every=0.02, children_every=0.05) as tree:
            deadline = time.monotonic() + 60
            while tree.peak_mb < HELD_MB and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.stdin.close()  # the child ends, then its parent
            assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
    assert tree.peak_mb >= HELD_MB
