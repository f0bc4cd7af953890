"""`adoptloop --help` and `--version` start quickly: the command modules import their stages,
the store and the connectors only inside the commands that use them.

Structural, not a timing test (timings are measured in bench/ and noted in the CHANGELOG):
a fresh interpreter imports the app, renders the help and the version, and none of the heavy
libraries has been imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "plotly",
    "simple_salesforce",
    "apscheduler",
    "httpx",
    "adoptloop.settings.model",  # the pydantic models of the config
    "adoptloop.connectors.registry",
    "adoptloop.pipeline.run",
)

_PROBE = """
import json, sys
from typer.testing import CliRunner
import adoptloop.cli.app
codes = [CliRunner().invoke(adoptloop.cli.app.app, args).exit_code for args in {argv!r}]
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"codes": codes, "heavy": heavy}}))
"""


def _probe(*argv: list[str], heavy: tuple[str, ...] = HEAVY) -> dict[str, list[object]]:
    """In a fresh interpreter: import the app, invoke it with each argv; the exit codes and
    which of `heavy` were imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=list(argv), heavy=heavy)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, list[object]] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["run", "--help"], ["adoption", "--help"], ["reset", "--help"]],
    ids=" ".join,
)
def test_help_and_version_import_no_heavy_library(argv: list[str]) -> None:
    found = _probe(argv)

    assert found["codes"] == [0]
    assert found["heavy"] == []


def test_importing_the_app_imports_no_heavy_library() -> None:
    assert _probe()["heavy"] == []


def test_the_top_level_help_and_version_do_not_even_import_pydantic() -> None:
    # (typer itself imports pydantic to convert the option types of a command's --help)
    assert _probe(["--help"], ["--version"], heavy=("pydantic",))["heavy"] == []
