"""Issue 18, gaps 3 and 4: the `vault-crm` connector from outside, through the CLI, against the
fake Vault served over HTTP on 127.0.0.1 with config/vault.example.yaml (its store, HR file
and capability map pointed into the test's folder).

`check` and `discover` reach it; `run` backfills (exit 0); a second `run` after an edited
answer, a deleted report and a session expiry ends with exactly the live ratings as
statements; `status` shows the run's API figures (calls, delays, pauses) though it completed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.store.db import open_store
from tests.connectors.crm.salesforce.scenario import write_people
from tests.connectors.crm.vault.fake_vault import PASSWORD, USERNAME, FakeVault
from tests.connectors.crm.vault.scenario import (
    capability_spec,
    live_ratings,
    rating_statements,
    seed,
    standing,
)
from tests.connectors.crm.vault.served import served
from tests.support import REPO

EXAMPLE = REPO / "config" / "vault.example.yaml"


def _config(folder: Path) -> Path:
    """The example config, unchanged but for where its store, HR file and map are."""
    capabilities = folder / "capabilities.yaml"
    capabilities.write_text(json.dumps(capability_spec()), encoding="utf-8")
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in (
        ("capability_map: demo/capabilities.yaml", f"capability_map: {capabilities}"),
        ("path: demo/hris/people.csv", f"path: {write_people(folder)}"),
    ):
        assert old in text
        text = text.replace(old, new)
    path = folder / "vault.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _cli(args: list[str], config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--config", str(config)])
    return result.exit_code, result.output + (result.stderr or "")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("ADOPTLOOP_ACTOR_KEY", "0123456789abcdef0123")
    monkeypatch.setenv("VAULT_USERNAME", USERNAME)
    monkeypatch.setenv("VAULT_PASSWORD", PASSWORD)
    return monkeypatch


def test_check_discover_and_runs_through_the_cli_end_with_the_live_ratings(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    """Gaps 3 and 4: check, discover, run (exit 0), run after an edit, a delete and a session
    expiry (exit 0, the statements are the live ratings), status with the API figures."""
    vault = FakeVault(page_size_cap=2)
    vault.now = datetime.now(UTC).replace(microsecond=0) - vault_lag()
    org = seed(vault)
    reports = [
        org.report(org.reps[day % 3], datetime(2026, 2, day, 15, tzinfo=UTC), opening=day % 5 + 1)
        for day in range(1, 6)
    ]
    org.ride_along(org.call(org.reps[0], date(2026, 2, 2)))
    vault.tick(minutes=5)
    config = _config(tmp_path)
    with served(vault) as url:
        env.setenv("VAULT_URL", url)
        code, output = _cli(["check"], config)
        assert code == 0, output
        code, output = _cli(["discover"], config)
        assert code == 0, output
        assert "survey_target__v" in output
        assert "coach__v" in output

        code, output = _cli(["run"], config)
        assert code == 0, output
        engine = open_store(f"sqlite:///{tmp_path / 'state' / 'vault.db'}")
        assert len(live_ratings(org)) == 10  # five completed reports, two rated answers each
        assert rating_statements(standing(engine)) == live_ratings(org)

        vault.tick(hours=1)
        vault.update("question_response__v", org.answers(reports[0])[0], number__v=1)
        vault.delete("survey_target__v", reports[1])
        vault.expire_session_in = 5  # the session ends in the middle of the run
        vault.tick(minutes=5)
        code, output = _cli(["run"], config)
        assert code == 0, output
        assert vault.log.count("POST auth") >= 3  # check, discover, run 1 and the re-login
        assert rating_statements(standing(engine)) == live_ratings(org)
        assert not any(r == reports[1] for r, _, _ in rating_statements(standing(engine)))

        code, output = _cli(["status", "--json"], config)
    report = json.loads(output)
    api = report["sources"]["crm"]["api"]
    assert report["sources"]["crm"]["stopped"] is None  # a complete run
    assert api["calls"] > 0
    assert api["logins"] == 2  # the run's login and the one after the expiry
    assert {"delayed_calls", "delayed_ms", "paused_seconds"} <= set(api)
    code, output = _cli(["status"], config)
    assert "crm API use, run" in output
    assert f"{api['calls']:,} calls (2 logins)" in output


def vault_lag() -> timedelta:
    """The fake's clock a little behind ours: the Vault's Date bounds each run's window."""
    return timedelta(minutes=30)
