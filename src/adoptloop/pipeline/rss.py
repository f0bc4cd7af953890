"""Peak resident memory of the run's processes, for the `stage done` log lines.

Linux's VmHWM is the high-water mark of one address space: the run process's own, and each of
the translate stage's worker processes' (read from the stage's process before the workers
stop). Not ru_maxrss: Linux carries the parent's high-water mark into a child's ru_maxrss
across fork and exec, so a run started by a process that once held 500 MB reported at least
500 MB, and a worker at least the run's own peak when it was started.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def high_water_mb(pid: int | None = None) -> float | None:
    """VmHWM of process `pid` (None: this one) in MB, or None where there is no /proc (not
    Linux) or the process is gone."""
    where = Path("/proc") / ("self" if pid is None else str(pid)) / "status"
    try:
        with where.open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):  # "VmHWM:   123456 kB"
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def own_high_water_mb() -> float:
    """This process's peak RSS in MB: VmHWM, or ru_maxrss where there is no /proc (KiB,
    bytes on macOS)."""
    peak = high_water_mb()
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (
            2**20 if sys.platform == "darwin" else 1024
        )
    return peak
