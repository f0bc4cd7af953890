"""config/veeva.example.yaml validates with its documented environment variables set."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoptloop.cli.app import app
from tests.support import REPO

EXAMPLE = REPO / "config" / "veeva.example.yaml"
ENV = {
    "ADOPTLOOP_ACTOR_KEY": "0123456789abcdef0123",
    "SF_CLIENT_ID": "3MVG9exampleConsumerKey",
    "SF_USERNAME": "integration@acme.example",
    "SF_JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nexample\n-----END PRIVATE KEY-----\n",
}


def _validate(config: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["validate", "--config", str(config)])
    return result.exit_code, result.output + (result.stderr or "")


def test_the_veeva_example_config_validates_with_its_env_vars_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, output = _validate(EXAMPLE, monkeypatch)

    assert code == 0, output
    assert "ok (2 sources" in output


def test_a_typo_in_the_salesforce_section_is_located_with_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "counted_statuses: [Submitted_vod]", "counted_status: [Submitted_vod]"
    )
    copy = tmp_path / "veeva.yaml"
    copy.write_text(text.replace("demo/", str(EXAMPLE.parent / "demo") + "/"), encoding="utf-8")

    code, output = _validate(copy, monkeypatch)

    assert code == 2
    assert (
        "sources.crm.profile.calls.counted_status: unknown field (did you mean 'counted_statuses')"
        in output
    )
