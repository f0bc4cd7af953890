"""The options before the command: `adoptloop --version` and `adoptloop --log-level LEVEL`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner, Result

from adoptloop.cli.app import app

ADOPTLOOP = Path(sys.executable).with_name("adoptloop")


def _invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(app, [str(a) for a in args], catch_exceptions=False)


def _events(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_version_option_prints_the_name_and_version_and_exits_0() -> None:
    done = subprocess.run(
        [ADOPTLOOP, "--version"], capture_output=True, text=True, check=False, timeout=60
    )

    assert done.returncode == 0
    assert done.stdout == f"adoptloop {version('adoptloop')}\n"
    assert done.stderr == ""


def test_version_option_wins_over_a_command() -> None:
    result = _invoke("--version", "run", "--config", "nowhere.yaml")

    assert result.exit_code == 0
    assert result.stdout == f"adoptloop {version('adoptloop')}\n"


def test_run_logs_info_events_by_default(demo_config: Path) -> None:
    result = _invoke("run", "--config", demo_config)

    assert result.exit_code == 0, result.stderr
    events = _events(result.stderr)
    assert {"pulled", "translated", "run finished"} <= {e["event"] for e in events}
    assert {e["level"] for e in events} <= {"info", "warning", "error"}


def test_log_level_warning_leaves_out_the_info_events(demo_config: Path) -> None:
    result = _invoke("--log-level", "warning", "run", "--config", demo_config)

    assert result.exit_code == 0, result.stderr
    assert all(e["level"] in ("warning", "error") for e in _events(result.stderr))
    assert "run finished" not in result.stderr


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "error"])
def test_log_level_sets_the_level_of_the_configured_logger(demo_config: Path, level: str) -> None:
    result = _invoke("--log-level", level, "validate", "--config", demo_config)

    assert result.exit_code == 0, result.stderr
    configured = structlog.get_logger().bind()  # the logger the command configured
    assert configured.get_effective_level() == logging.getLevelName(level.upper())


def test_log_level_comes_from_the_environment_too(demo_config: Path) -> None:
    result = _invoke("run", "--config", demo_config, env={"ADOPTLOOP_LOG_LEVEL": "error"})

    assert result.exit_code == 0, result.stderr
    assert _events(result.stderr) == []


def test_an_unknown_log_level_is_a_usage_error_exit_2() -> None:
    result = _invoke("--log-level", "loud", "version")

    assert result.exit_code == 2
    assert "'loud' is not one of 'debug', 'info', 'warning', 'error'" in result.stderr
    assert "Traceback" not in result.output
