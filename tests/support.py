"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from adoptloop.domain import Person

REPO = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO / "config" / "demo.yaml"


def require(component: str, reason: str | None) -> None:
    """Skip (or, in CI, fail) when `reason` says why a real component is unavailable."""
    if reason is None:
        return
    if os.environ.get("ADOPTLOOP_REQUIRE_ALL") == "1":
        pytest.fail(f"{component} is required (ADOPTLOOP_REQUIRE_ALL=1) but unavailable: {reason}")
    pytest.skip(f"{component} unavailable: {reason}")


def copy_demo(target: Path) -> Path:
    """A private copy of config/demo.yaml and its data; returns the copied config path."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(DEMO_CONFIG, target / "demo.yaml")
    shutil.copytree(REPO / "config" / "demo", target / "demo")
    return target / "demo.yaml"


def install_local_lrs(root: Path = REPO / "tests" / "lrs") -> None:
    """Install the pinned LRS package from its lock file when npm is here and it is missing."""
    npm = shutil.which("npm")
    if npm is None or (root / "node_modules" / "xapi-statements").is_dir():
        return
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(root)],
        check=False,
        capture_output=True,
        timeout=600,
    )


def install_ralph(venv: Path = REPO / "tests" / "lrs" / ".ralph-venv") -> None:
    """Create ralph's own virtualenv and install it there when it is missing (pip needed)."""
    from tests.harness.ralph_server import RALPH_REQUIREMENTS, ralph_available

    python = shutil.which("python3.11")
    if ralph_available(venv) is None or python is None:
        return
    if not (venv / "bin" / "pip").is_file():
        subprocess.run(
            [python, "-m", "venv", str(venv)], check=False, capture_output=True, timeout=300
        )
    pip = venv / "bin" / "pip"
    if pip.is_file():
        subprocess.run(
            [str(pip), "install", "-q", *RALPH_REQUIREMENTS],
            check=False,
            capture_output=True,
            timeout=600,
        )


def hr_row(
    hr_id: str,
    email: str | None = None,
    employee_number: str | None = None,
    valid_from: date = date(2026, 1, 1),
) -> Person:
    """An active rep's HR row with only what identity matching looks at filled in."""
    return Person(
        hr_id=hr_id,
        valid_from=valid_from,
        first_name="A",
        last_name="B",
        email=email,
        employee_number=employee_number,
        role="rep",
        manager_hr_id=None,
        region=None,
        country=None,
        territory=None,
        business_unit=None,
        status="active",
        hire_date=None,
        termination_date=None,
    )


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV export's header and rows, for a test that edits it."""
    with path.open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path.write_text(out.getvalue(), encoding="utf-8")


def added_records(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The statements a run added about records, without the uplift and leniency estimates
    (`…/verbs/estimated-*`) and their voids: an edit may move an estimate, whose month's
    statement is then voided and re-issued (issue 19 point 5, tests/pipeline/test_estimates.py)."""
    estimates = {s["id"] for s in after if "/verbs/estimated-" in s["verb"]["id"]}
    return [
        s
        for s in after[len(before) :]
        if s["id"] not in estimates and s["object"].get("id") not in estimates
    ]


@contextmanager
def sql_run(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements `engine` runs inside the block, each on one line (whitespace
    collapsed), in the order they ran."""
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def translate_workers_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the translate stage, once it has started its worker processes, wait for one to be
    ready instead of translating the batches itself meanwhile (as it does in a real run): a
    test's few batches would all be made before a fresh interpreter has started."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from adoptloop.pipeline import translate_worker

    local = translate_worker.Offload.local

    def waiting(offload: translate_worker.Offload) -> bool:
        if offload._ready:
            wait(offload._ready, return_when=FIRST_COMPLETED)
        return local(offload)

    monkeypatch.setattr(translate_worker.Offload, "local", waiting)
