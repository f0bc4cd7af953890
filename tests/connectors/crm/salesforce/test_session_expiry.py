"""Issue 15, point 1 (Salesforce sessions): a session that expires in the middle of a run
(401 INVALID_SESSION_ID on a query, a queryMore or a Bulk results call) is renewed with the
configured flow (client credentials or JWT bearer) and the run ends with the same data as
an uninterrupted one; credentials the org refuses for good end the run with exit 3 naming the
org, without a traceback, and with nothing written."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.fields import Resolved
from adoptloop.http.client import AuthFailed
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import schema
from adoptloop.store.db import open_store
from tests.connectors.crm.salesforce.fake_org import INSTANCE, FakeOrg
from tests.connectors.crm.salesforce.harness import Pipeline, make_config
from tests.connectors.crm.salesforce.scenario import Veeva, ts
from tests.connectors.crm.salesforce.test_example_config import EXAMPLE

JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# where the session dies: the first page of a window (queryAll), a nextRecordsUrl page, a
# Bulk API 2.0 result page
EXPIRES_AT = {"query": "/queryAll/", "queryMore": "/query/01g", "bulk": "/results"}


def _busy_org(veeva: Veeva) -> None:
    for day in range(2, 20):
        rep = veeva.reps[day % 3]
        call = veeva.call(rep, date(2026, 2, day))
        if day % 4 == 0:
            veeva.ride_along(call)
        if day % 5 == 0:
            veeva.report(rep, date(2026, 2, day), Opening_Rating__c=day % 5 + 1)
        if day % 6 == 0:
            veeva.advanced(rep, submitted=ts(date(2026, 2, day)), opening=4, closing="3")
        veeva.org.tick(minutes=7)


def _config(org: FakeOrg, key: str, flow: str, call: str) -> SalesforceConfig:
    sync = {"bulk_above_rows": 0} if call == "bulk" else {}
    if flow == "jwt-bearer":
        return make_config(org, key, sync=sync)
    auth = {
        "type": "client-credentials",
        "client_id": org.client_id,
        "client_secret": Resolved(org.client_secret),
        "login_url": INSTANCE,
    }
    return make_config(org, key, auth=auth, sync=sync)


@pytest.mark.parametrize("call", sorted(EXPIRES_AT))
@pytest.mark.parametrize("flow", ["client-credentials", "jwt-bearer"])
def test_a_session_expiring_mid_run_is_renewed_and_the_run_ends_with_the_right_data(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
    flow: str,
    call: str,
) -> None:
    _busy_org(veeva)
    config = _config(org, rsa_key[0], flow, call)
    expected = Pipeline(tmp_path / "uninterrupted", org, config, capabilities)
    expected.run()
    grant = JWT if flow == "jwt-bearer" else "client_credentials"
    assert org.logins == [grant]
    pipeline = Pipeline(tmp_path / "expiring", org, config, capabilities)
    org.expire_at = EXPIRES_AT[call]

    pipeline.run()

    assert org.expire_at is None  # the session did expire at that call
    assert org.logins == [grant, grant, grant]  # the second run logged in, then again
    assert pipeline.last is not None
    assert pipeline.last.stopped is None
    assert pipeline.live() == expected.live()
    assert pipeline.standing() == expected.standing()


def test_credentials_revoked_mid_run_fail_naming_the_org(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    capabilities: CapabilityMap,
) -> None:
    _busy_org(veeva)
    pipeline = Pipeline(tmp_path, org, make_config(org, rsa_key[0]), capabilities)
    org.expire_at = EXPIRES_AT["queryMore"]
    org.credentials_revoked = True  # the new login is refused: invalid_grant

    with pytest.raises(AuthFailed) as raised:
        pipeline.run()

    assert raised.value.exit_code == 3
    message = str(raised.value)
    assert "sources.crm (https://login.salesforce.com)" in message
    assert "invalid_grant" in message


def _example_run(tmp_path: Path, org: FakeOrg, key: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`adoptloop run` with the shipped Veeva example, its env vars naming the fake org."""
    env = {
        "ADOPTLOOP_ACTOR_KEY": "0123456789abcdef0123",
        "SF_CLIENT_ID": org.client_id,
        "SF_USERNAME": org.username,
        "SF_JWT_PRIVATE_KEY": key,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    copy = tmp_path / "veeva.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("demo/", str(EXAMPLE.parent / "demo") + "/")
    copy.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["run", "--config", str(copy)])


def test_revoked_credentials_exit_3_naming_the_org_without_a_traceback_and_write_nothing(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _busy_org(veeva)
    org.credentials_revoked = True

    result = _example_run(tmp_path, org, rsa_key[0], monkeypatch)

    assert result.exit_code == 3, result.output
    output = result.output + (result.stderr or "")
    assert "sources.crm (https://login.salesforce.com)" in output
    assert "refused the jwt-bearer login" in output
    assert "Traceback" not in output
    engine = open_store(f"sqlite:///{tmp_path / 'state' / 'veeva.db'}")
    with engine.connect() as conn:
        for table in ("people", "observations", "interactions", "cursors", "outbox"):
            t = schema.metadata.tables[table]
            assert conn.execute(select(func.count()).select_from(t)).scalar_one() == 0, table
