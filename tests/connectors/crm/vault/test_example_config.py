"""Issue 18, point 5: config/vault.example.yaml validates with its documented environment
variables set, and its URL comes from ${VAULT_URL}."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoptloop.cli.app import app
from tests.support import REPO

EXAMPLE = REPO / "config" / "vault.example.yaml"
ENV = {
    "ADOPTLOOP_ACTOR_KEY": "0123456789abcdef0123",
    "VAULT_URL": "https://myvault.veevavault.example",
    "VAULT_USERNAME": "integration@myvault.example",
    "VAULT_PASSWORD": "example-password",
}


def _invoke(args: list[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str]:
    for name, value in {**ENV, **env}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output + (result.stderr or "")


def test_the_vault_example_config_validates_with_its_env_vars_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, output = _invoke(["validate", "--config", str(EXAMPLE)], monkeypatch)
    assert code == 0, output
    assert "ok (2 sources" in output


def test_a_vault_url_that_is_not_a_url_is_a_located_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, output = _invoke(
        ["validate", "--config", str(EXAMPLE)], monkeypatch, VAULT_URL="myvault.veevavault.com"
    )
    assert code == 2
    assert "sources.crm.url" in output


def test_a_password_typed_into_the_yaml_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("${VAULT_PASSWORD}", "hunter2")
    copy = tmp_path / "vault.yaml"
    copy.write_text(text.replace("demo/", str(EXAMPLE.parent / "demo") + "/"), encoding="utf-8")
    code, output = _invoke(["validate", "--config", str(copy)], monkeypatch)
    assert code == 2
    assert "sources.crm.auth.password" in output
