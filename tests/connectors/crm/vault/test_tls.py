"""Issue 18, gap 2: TLS trust from SSL_CERT_FILE, against the fake Vault served over HTTPS on
127.0.0.1 with a self-signed certificate made in the test."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.crm.vault.connector import VaultConnector
from adoptloop.domain import Account, Checkpoint
from adoptloop.errors import ConfigError
from adoptloop.testing.kit import drain
from tests.connectors.crm.vault.fake_vault import FakeVault
from tests.connectors.crm.vault.scenario import SOURCE, capability_map, make_config, seed
from tests.connectors.crm.vault.served import self_signed, served


def _https_connector(url: str) -> VaultConnector:
    """The connector on the real httpx transport (no test transport): the trust store counts."""
    context = ConnectorContext(SOURCE, Path(), capability_map(), date(2026, 3, 2))
    return VaultConnector(make_config(url=url), context)


@pytest.fixture
def vault() -> FakeVault:
    fake = FakeVault()
    seed(fake)
    fake.now = datetime.now(UTC)  # the window's bound is the Vault's Date header
    return fake


def test_a_vault_behind_a_private_ca_is_read_with_ssl_cert_file(
    tmp_path: Path, vault: FakeVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gap 2: SSL_CERT_FILE names the certificate -> login, metadata, one VQL page read."""
    certificate = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    vault.tick(minutes=5)
    with served(vault, certificate) as url:
        assert url.startswith("https://127.0.0.1:")
        items = drain(_https_connector(url), "users")
    accounts = {i.ref.external_id for i in items if isinstance(i, Account)}
    assert accounts == set(vault.tables["user__sys"])
    assert isinstance(items[-1], Checkpoint)
    assert "POST auth" in vault.log


def test_without_ssl_cert_file_the_certificate_is_refused_with_a_clear_error_exit_2(
    tmp_path: Path, vault: FakeVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gap 2: the default trust store does not know the CA -> UntrustedCertificate (a
    ConfigError, exit 2) at once, naming the host and SSL_CERT_FILE; nothing is retried."""
    certificate = self_signed(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with served(vault, certificate) as url, pytest.raises(ConfigError) as raised:
        drain(_https_connector(url), "users")
    assert raised.value.exit_code == 2
    message = str(raised.value)
    assert "TLS certificate of 127.0.0.1 is not trusted" in message
    assert "SSL_CERT_FILE" in message
    assert vault.log == []  # refused in the handshake: the Vault never saw a request
