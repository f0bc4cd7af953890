"""Issue 15, point 1 (Salesforce login host): `login_url` stays limited to Salesforce hosts by
default; `allow_custom_login_host: true` lets an admin point it at a proxy or a test org, and
both first-class flows (client credentials, JWT bearer) log in there. Here the fake org also
answers at https://127.0.0.1:8443, as a test org or a proxy in front of the org would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.domain import Account
from adoptloop.fields import Resolved
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.conftest import START
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import connector, make_config, read, records
from tests.connectors.crm.salesforce.scenario import seed
from tests.connectors.crm.salesforce.test_example_config import ENV, EXAMPLE

TEST_ORG = "https://127.0.0.1:8443"
JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def local_org(rsa_key: tuple[str, Any]) -> Iterator[tuple[FakeOrg, responses.RequestsMock]]:
    fake = FakeOrg(now=START, jwt_public_key=rsa_key[1], page_size=3, served_at=TEST_ORG)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        seed(fake)
        yield fake, mock


def _validate(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    copy = tmp_path / "veeva.yaml"
    copy.write_text(text.replace("demo/", str(EXAMPLE.parent / "demo") + "/"), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--config", str(copy)])
    return result.exit_code, result.output + (result.stderr or "")


def _pointed_at_the_test_org() -> str:
    return EXAMPLE.read_text(encoding="utf-8").replace(
        "login_url: https://login.salesforce.com", f"login_url: {TEST_ORG}"
    )


def test_a_login_url_outside_salesforce_is_a_validate_error_naming_the_field_and_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _validate(_pointed_at_the_test_org(), tmp_path, monkeypatch)

    assert code == 2
    assert "sources.crm" in output
    assert f"auth.login_url: '{TEST_ORG}' is not a Salesforce login host" in output
    assert "allow_custom_login_host: true" in output


def test_allow_custom_login_host_lets_validate_accept_a_proxy_or_test_org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _pointed_at_the_test_org().replace(
        "    type: salesforce\n", "    type: salesforce\n    allow_custom_login_host: true\n"
    )

    code, output = _validate(text, tmp_path, monkeypatch)

    assert code == 0, output


def _accounts_read_through(
    org: FakeOrg, mock: responses.RequestsMock, auth: dict[str, Any], key: str, caps: CapabilityMap
) -> list[Account]:
    config = make_config(org, key, auth=auth, allow_custom_login_host=True)
    org.tick(minutes=1)
    items, _ = read(connector(org, config, caps), "users")
    hosts = {str(call.request.url).split("/services/")[0] for call in mock.calls}
    assert hosts == {TEST_ORG}  # the token request and every data call went to the test org
    return records(items, Account)


def test_client_credentials_log_in_at_a_custom_host_when_allowed(
    local_org: tuple[FakeOrg, responses.RequestsMock],
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    org, mock = local_org
    auth = {
        "type": "client-credentials",
        "client_id": org.client_id,
        "client_secret": Resolved(org.client_secret),
        "login_url": TEST_ORG,
    }

    accounts = _accounts_read_through(org, mock, auth, rsa_key[0], capabilities)

    assert len(accounts) == 5
    assert org.logins == ["client_credentials"]


def test_jwt_bearer_logs_in_at_a_custom_host_when_allowed(
    local_org: tuple[FakeOrg, responses.RequestsMock],
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    org, mock = local_org
    auth = {
        "type": "jwt-bearer",
        "client_id": org.client_id,
        "username": org.username,
        "private_key": Resolved(rsa_key[0]),
        "login_url": TEST_ORG,
    }

    accounts = _accounts_read_through(org, mock, auth, rsa_key[0], capabilities)

    assert len(accounts) == 5
    assert org.logins == [JWT]


def test_the_password_flow_is_not_offered_at_a_custom_host(
    local_org: tuple[FakeOrg, responses.RequestsMock], rsa_key: tuple[str, Any]
) -> None:
    org, _ = local_org
    auth = {
        "type": "password",
        "username": org.username,
        "password": Resolved(org.password),
        "login_url": TEST_ORG,
    }
    with pytest.raises(ValueError, match="jwt-bearer or client-credentials, not password"):
        make_config(org, rsa_key[0], auth=auth, allow_custom_login_host=True)
