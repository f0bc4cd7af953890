"""docs/operations.md: its configuration is valid and its exit-code table is the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adoptloop.connectors.registry import Registry
from adoptloop.errors import AdoptloopError, ConfigError, FatalSyncError, RetriableError
from adoptloop.pipeline.outcome import EXIT_CODES
from adoptloop.pipeline.run import RunInterrupted
from adoptloop.scheduler.jobs import build_jobs
from adoptloop.settings.model import load_settings
from adoptloop.store.db import StoreUnavailable
from adoptloop.store.locks import RunInProgress
from tests.support import REPO, copy_demo

DOC = REPO / "docs" / "operations.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_documented_schedule_and_retention_sections_are_valid(tmp_path: Path) -> None:
    (example,) = [b for b in _blocks("yaml") if "schedule:" in b]
    config = copy_demo(tmp_path / "config")
    config.write_text(config.read_text() + "\n" + example)

    settings = load_settings(config, Registry.from_entry_points())

    assert {job.name for job in build_jobs(settings)} == {"nightly", "source:crm", "retention"}
    assert settings.schedule.health.port == 8321


def test_the_documented_store_section_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (store,) = [b for b in _blocks("yaml") if b.startswith("store:")]
    config = copy_demo(tmp_path / "config")
    (config.parent / "secrets").mkdir()
    (config.parent / "secrets" / "db-password").write_text("pw-from-a-file\n")
    text = config.read_text().replace("store:\n  url: sqlite:///state/demo.db", store.strip())
    config.write_text(text)

    settings = load_settings(config, Registry.from_entry_points())

    assert settings.store.url.endswith("@db.internal:5432/adoptloop")
    assert settings.store.password is not None
    assert settings.store.password.get_secret_value() == "pw-from-a-file"


def test_a_password_written_into_the_store_url_is_refused(tmp_path: Path) -> None:
    config = copy_demo(tmp_path / "config")
    config.write_text(
        config.read_text().replace(
            "url: sqlite:///state/demo.db", "url: postgresql+psycopg://u:hunter22@db/x"
        )
    )
    with pytest.raises(ConfigError, match=r"password may not be written into store\.url"):
        load_settings(config, Registry.from_entry_points())


def test_every_exit_status_of_the_code_is_in_the_documented_table() -> None:
    table = {int(code) for code in re.findall(r"^\| (\d+) \|", DOC.read_text(), re.M)}
    codes = {
        0,
        ConfigError.exit_code,
        FatalSyncError.exit_code,
        4,  # status --check
        *EXIT_CODES.values(),  # a run's outcome: done, attention, stopped
        AdoptloopError.exit_code,  # an error that names no status: a bug
        RetriableError.exit_code,
        RunInProgress.exit_code,
        StoreUnavailable.exit_code,
        130,
        RunInterrupted.exit_code,
    }
    assert codes == table
    assert 1 not in table  # DESIGN.md: never 1


def test_the_systemd_unit_and_cron_lines_run_the_real_commands() -> None:
    (unit,) = _blocks("ini")
    assert "ExecStart=/opt/adoptloop/bin/adoptloop serve --config " in unit
    assert "KillSignal=SIGTERM" in unit
    assert "RestartPreventExitStatus=2" in unit
    (cron,) = _blocks("crontab")
    assert "adoptloop run --config /etc/adoptloop/adoptloop.yaml" in cron
    assert "adoptloop retention purge --config" in cron
