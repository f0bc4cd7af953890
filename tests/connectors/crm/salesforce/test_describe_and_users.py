"""describe() checks every configured field at the start of a run; users resolve to HR ids."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.errors import ConfigError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import schema
from adoptloop.store.db import open_store
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import Pipeline, connector, make_config, read
from tests.connectors.crm.salesforce.scenario import Veeva
from tests.connectors.crm.salesforce.test_session_expiry import _example_run


def test_every_missing_configured_field_is_named_before_anything_is_read(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = make_config(
        org,
        rsa_key[0],
        profile={
            "calls": {"fields": {"territory": "Territory__c"}},
            "coaching_reports": {"fields": {"comments": ["Coaching_Notes__c"]}},
        },
    )

    with pytest.raises(ConfigError) as raised:
        read(connector(org, config, capabilities), "users")

    problems = raised.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(
        "sources.crm.profile.calls.fields.territory: Call2_vod__c.Territory__c"
    )
    assert "Coaching_Report_vod__c.Coaching_Notes__c is not a field" in problems[1]
    assert "field-level security" in problems[1]
    assert not any("query" in p for _, p, _ in org.log)  # nothing was read


def test_an_object_the_org_does_not_have_is_named(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = make_config(
        org, rsa_key[0], profile={"coaching_reports": {"object": "Coaching_Report__c"}}
    )

    with pytest.raises(ConfigError, match="object Coaching_Report__c does not exist in this org"):
        read(connector(org, config, capabilities), "users")


def test_describe_runs_once_per_run_for_all_streams(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    org.tick(minutes=1)
    conn = connector(org, config, capabilities)
    for stream in conn.streams():
        read(conn, stream)

    describes = [p for _, p, _ in org.log if p.endswith("/describe")]
    assert len(describes) == len(set(describes)) == 5


def test_users_resolve_by_federation_id_employee_number_or_email(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    config: SalesforceConfig,
    capabilities: CapabilityMap,
) -> None:
    org.tick(minutes=1)
    pipeline = Pipeline(tmp_path, org, config, capabilities)

    pipeline.run()

    matched = _matches(pipeline)
    assert matched[veeva.manager] == ("E10002", "FederationIdentifier->hr_id")
    assert matched[veeva.reps[0]] == ("E10010", "FederationIdentifier->hr_id")
    assert matched[veeva.reps[1]] == ("E10011", "EmployeeNumber->employee_number")
    assert matched[veeva.reps[2]] == ("E10012", "Email->email")
    assert veeva.stranger not in matched


def test_an_unmatched_user_is_quarantined_once_however_many_runs_and_records(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    config: SalesforceConfig,
    capabilities: CapabilityMap,
) -> None:
    for day in (23, 24, 25):
        veeva.call(veeva.stranger, date(2026, 2, day))
    org.tick(minutes=1)
    pipeline = Pipeline(tmp_path, org, config, capabilities)
    pipeline.run()
    org.tick(days=1)
    org.update("User", veeva.stranger, Email="temp.rep2@agency.example")  # re-read, still no match
    org.tick(minutes=1)

    pipeline.run()

    entries = pipeline.quarantine()
    user_entries = [e for e in entries if e["stream"] == "users"]
    assert [(e["record_key"], e["location"]) for e in user_entries] == [
        (veeva.stranger, f"User {veeva.stranger}")
    ]
    assert "matches no HR record" in user_entries[0]["reason"]
    assert len(entries) == len({(e["stream"], e["record_key"]) for e in entries})  # no duplicates


def _matches(pipeline: Pipeline) -> dict[str, tuple[str, str]]:
    from sqlalchemy import select

    from adoptloop.store import schema

    t = schema.identities
    with pipeline.engine.connect() as conn:
        rows = conn.execute(select(t.c.external_id, t.c.hr_id, t.c.matched_by)).all()
    return {r.external_id: (r.hr_id, r.matched_by) for r in rows}


def test_check_describes_the_configured_objects_and_reads_no_data(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    good = connector(org, make_config(org, rsa_key[0]), capabilities)
    good.check()
    paths = [p for _, p, _ in org.log]
    assert paths
    assert all(p.endswith("/describe") or "oauth2/token" in p for p in paths), paths

    broken = make_config(
        org, rsa_key[0], profile={"calls": {"fields": {"territory": "Territory__c"}}}
    )
    with pytest.raises(ConfigError, match="Territory__c"):
        connector(org, broken, capabilities).check()


def test_the_preflight_names_a_missing_field_before_any_source_is_read(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    """The run calls every source's pre-flight before pulling any: a field the org lacks stops
    the run with exit 2 before the HR people are written."""
    broken = make_config(
        org, rsa_key[0], profile={"calls": {"fields": {"territory": "Territory__c"}}}
    )
    with pytest.raises(ConfigError, match="Territory__c"):
        connector(org, broken, capabilities).preflight()

    good = connector(org, make_config(org, rsa_key[0]), capabilities)
    good.preflight()
    described = len([p for _, p, _ in org.log if p.endswith("/describe")])
    read(good, "users")  # the reads use the pre-flight's describes: none again
    assert len([p for _, p, _ in org.log if p.endswith("/describe")]) == described


def test_discover_lists_each_objects_fields_what_the_mapping_reads_and_what_it_lacks(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    config = make_config(
        org, rsa_key[0], profile={"calls": {"fields": {"territory": "Territory__c"}}}
    )
    found = {s.stream: s for s in connector(org, config, capabilities).discover()}

    calls = found["Call2_vod__c"]
    assert "Territory__c" in calls.missing
    assert "Call_Date_vod__c" in calls.used
    assert set(calls.used) <= set(calls.available)
    assert "Territory__c" not in calls.available


def test_a_run_whose_org_lacks_a_configured_field_exits_2_with_nothing_written(
    tmp_path: Path,
    org: FakeOrg,
    veeva: Veeva,
    rsa_key: tuple[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15, point 1 (no partial writes before an exit 2): `adoptloop run` with the shipped
    Veeva example (an HR file and the org) against an org that lacks a configured field exits
    2 naming it, and the store holds nothing of the HR file, the LMS or the org: the sources'
    pre-flights all run before any source commits."""
    veeva.call(veeva.reps[0], date(2026, 2, 25))
    org.drop_field("Call2_vod__c", "Territory_vod__c")
    org.tick(minutes=1)

    result = _example_run(tmp_path, org, rsa_key[0], monkeypatch)

    output = result.output + (result.stderr or "")
    assert result.exit_code == 2, output
    assert "Call2_vod__c.Territory_vod__c is not a field" in output
    assert "Traceback" not in output
    engine = open_store(f"sqlite:///{tmp_path / 'state' / 'veeva.db'}")
    with engine.connect() as conn:
        for table in ("people", "completions", "interactions", "cursors", "outbox"):
            t = schema.metadata.tables[table]
            assert conn.execute(select(func.count()).select_from(t)).scalar_one() == 0, table
    engine.dispose()
