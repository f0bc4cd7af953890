"""The ceiling the machine sets on `pull_vs_bare_fetch` (bench/run.py pull_ceiling)."""

from __future__ import annotations

from typing import Any

from bench.run import pull_ceiling


def _result(streams_cpu: dict[str, float], org: float | None, bare: float) -> dict[str, Any]:
    full: dict[str, Any] = {"streams_cpu_seconds": streams_cpu}
    if org is not None:
        full["org_cpu_seconds"] = org
    return {"full": full, "baselines": {"bare_fetch": {"seconds": bare, "org_cpu_seconds": 4.0}}}


def test_the_cpu_of_the_pull_and_the_org_shared_over_the_cores_bounds_the_ratio() -> None:
    """Only the CRM streams count: the pull's 12 CPU-s and the org's 6 over 2 cores take at
    least 9 s, but one interpreter's 12 CPU-s cannot run in fewer than 12 (the larger wins)."""
    streams = {"pull crm.calls": 8.0, "pull crm.coaching_reports": 4.0, "pull lms.completions": 9.0}
    got = pull_ceiling(_result(streams, org=6.0, bare=6.0), cores=2)
    assert got == {
        "crm_pull_cpu_seconds": 12.0,
        "org_cpu_seconds_pull": 6.0,
        "org_cpu_seconds_bare_fetch": 4.0,
        "cores": 2,
        "ceiling": 0.5,
    }
    # on one core the two processes' CPU add up: 18 s at least
    assert pull_ceiling(_result(streams, org=6.0, bare=6.0), cores=1)["ceiling"] == 0.333


def test_no_ceiling_without_the_cpu_figures() -> None:
    """A run logged by a version without the streams' CPU, or an org not measured: nothing."""
    assert pull_ceiling(_result({}, org=6.0, bare=6.0), cores=2) == {}
    assert pull_ceiling(_result({"pull crm.calls": 8.0}, org=None, bare=6.0), cores=2) == {}
