"""Auth with simple-salesforce: JWT bearer and client credentials first, a given session, and
the deprecated username/password login; the API version is configurable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from adoptloop.domain import Account
from adoptloop.errors import ConfigError
from adoptloop.fields import Resolved
from adoptloop.http.client import AuthFailed
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import INSTANCE, FakeOrg
from tests.connectors.crm.salesforce.harness import connector, make_config, read, records
from tests.connectors.crm.salesforce.scenario import Veeva

JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _users(org: FakeOrg, config: Any, capabilities: CapabilityMap) -> list[Account]:
    org.tick(minutes=1)
    items, _ = read(connector(org, config, capabilities), "users")
    return records(items, Account)


def test_jwt_bearer_with_the_key_from_the_environment_signs_in_without_a_secret(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = make_config(org, rsa_key[0])  # private_key: ${SF_JWT_PRIVATE_KEY}

    assert len(_users(org, config, capabilities)) == 5
    assert org.logins == [JWT]


def test_jwt_bearer_reads_the_private_key_from_a_file(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    key_file = tmp_path / "integration.key"
    key_file.write_text(rsa_key[0], encoding="utf-8")
    auth = {
        "type": "jwt-bearer",
        "client_id": org.client_id,
        "username": org.username,
        "private_key_file": str(key_file),
    }

    assert len(_users(org, make_config(org, rsa_key[0], auth=auth), capabilities)) == 5
    assert org.logins == [JWT]


def test_client_credentials_sign_in_at_the_my_domain(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    auth = {
        "type": "client-credentials",
        "client_id": org.client_id,
        "client_secret": Resolved(org.client_secret),
        "login_url": INSTANCE,
    }

    assert len(_users(org, make_config(org, rsa_key[0], auth=auth), capabilities)) == 5
    assert org.logins == ["client_credentials"]


def test_client_credentials_need_a_my_domain_not_login_salesforce_com(
    org: FakeOrg, rsa_key: tuple[str, Any]
) -> None:
    auth = {
        "type": "client-credentials",
        "client_id": org.client_id,
        "client_secret": Resolved(org.client_secret),
        "login_url": "https://login.salesforce.com",
    }
    with pytest.raises(ValidationError, match="needs your My Domain"):
        make_config(org, rsa_key[0], auth=auth)


def test_an_existing_session_id_and_instance_url_are_used_as_given(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    token = org.issue_token("orchestrator")
    auth = {"type": "session", "instance_url": INSTANCE, "session_id": Resolved(token)}

    assert len(_users(org, make_config(org, rsa_key[0], auth=auth), capabilities)) == 5
    assert org.logins == ["orchestrator"]


def test_password_and_security_token_still_sign_in_but_are_logged_as_deprecated(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    auth = {
        "type": "password",
        "username": org.username,
        "password": Resolved(org.password),
        "security_token": Resolved(org.security_token),
    }
    with capture_logs() as logs:
        accounts = _users(org, make_config(org, rsa_key[0], auth=auth), capabilities)

    assert len(accounts) == 5
    assert org.logins == ["soap"]
    warning = next(e for e in logs if e["event"] == "salesforce password login is deprecated")
    assert warning["log_level"] == "warning"
    assert "jwt-bearer" in warning["hint"]


def test_a_refused_login_names_the_flow_and_what_to_check(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    auth = {
        "type": "jwt-bearer",
        "client_id": "someone-else",
        "username": org.username,
        "private_key": Resolved(rsa_key[0]),
    }

    with pytest.raises(
        AuthFailed, match=r"refused the jwt-bearer login \(invalid_grant.*pre-authorized"
    ):
        _users(org, make_config(org, rsa_key[0], auth=auth), capabilities)


def test_a_private_key_that_cannot_sign_is_a_config_error_not_a_crash(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    not_a_key = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"
    auth = {
        "type": "jwt-bearer",
        "client_id": org.client_id,
        "username": org.username,
        "private_key": Resolved(not_a_key),
    }

    with pytest.raises(ConfigError, match="not a usable PEM RSA key") as raised:
        _users(org, make_config(org, rsa_key[0], auth=auth), capabilities)
    assert "bm90IGEga2V5" not in str(raised.value)


def test_the_api_version_is_configurable(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    org.version = "59.0"

    _users(org, make_config(org, rsa_key[0], api_version="59.0"), capabilities)

    assert {p.split("/")[3] for _, p, _ in org.log} == {"v59.0"}


def test_a_literal_secret_in_the_config_is_refused(org: FakeOrg) -> None:
    with pytest.raises(ValidationError, match=r"reference it as \$\{ENV_VAR\}"):
        make_config(
            org,
            "-----BEGIN PRIVATE KEY-----",
            auth={
                "type": "jwt-bearer",
                "client_id": "x",
                "username": "y",
                "private_key": "pasted key",
            },
        )
