"""The synthetic org's Salesforce data (`generate_org(apis=True)`) behind the fake org: a sync
through the real connector stores what the file connector stores from the same org's CSVs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from bench.synthetic import OrgSpec, generate_org
from sqlalchemy import Engine, select

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.connectors.crm.salesforce.connector import SalesforceConnector
from adoptloop.connectors.files.coaching import CoachingFileConfig, CoachingFileConnector
from adoptloop.connectors.files.people import PeopleFileConfig, PeopleFileConnector
from adoptloop.fields import Resolved
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.pipeline.pull import PullStage
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import bookkeeping, schema
from adoptloop.store.db import open_store
from tests.connectors.crm.salesforce import payloads
from tests.connectors.crm.salesforce.fake_org import INSTANCE, FakeOrg
from tests.connectors.crm.salesforce.harness import Sleeps

DEMO = Path(__file__).resolve().parents[4] / "config" / "demo"
TOKEN = "00D5g000004ACME!AQsynthetic.session"
RUN_DATE = date(2026, 8, 1)
ZONE = "Europe/London"
# The synthetic org rates six capabilities; the fake org describes two of the rating fields.
EXTRA_FIELDS = {
    "Needs_Assessment_Rating__c": ("double", None),
    "Clinical_Data_Rating__c": ("double", None),
    "Closing_Rating__c": ("double", None),
    "Compliance_Rating__c": ("double", None),
    "Submitted_DateTime__c": ("datetime", None),
}
OBSERVATION = (
    "record_id",
    "observer_hr_id",
    "observed_hr_id",
    "visit_date",
    "timezone",
    "status",
    "counted",
    "submitted_at",
    "modified_at",
    "has_next_step",
    "names_capability",
    "word_count",
)
INTERACTION = ("record_id", "hr_id", "date", "channel", "type", "status", "manager_hr_id")


def _people(folder: Path, capabilities: CapabilityMap) -> PeopleFileConnector:
    config = PeopleFileConfig.model_validate(
        {"type": "file-people", "path": str(folder / "hris" / "people.csv")}
    )
    return PeopleFileConnector(config, ConnectorContext("hris", folder, capabilities, RUN_DATE))


def _pull(engine: Engine, capabilities: CapabilityMap, *connectors: Any) -> None:
    with engine.begin() as conn:
        run_id = bookkeeping.start_run(conn, "test", None)
    stage = PullStage(engine, run_id)
    for connector in connectors:
        stage.pull(connector)


def _stored(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    o, r, i = schema.observations, schema.ratings, schema.interactions
    with engine.connect() as conn:
        return {
            "observations": [
                tuple(row)
                for row in conn.execute(
                    select(*(o.c[c] for c in OBSERVATION)).order_by(o.c.record_id)
                )
            ],
            "ratings": [
                tuple(row)
                for row in conn.execute(
                    select(r.c.record_id, r.c.item, r.c.raw, r.c.scaled).order_by(
                        r.c.record_id, r.c.item
                    )
                )
            ],
            "visits": [
                tuple(row)
                for row in conn.execute(
                    select(*(i.c[c] for c in INTERACTION))
                    .where(i.c.status == "Submitted_vod", i.c.deleted.is_(False))
                    .order_by(i.c.record_id)
                )
            ],
        }


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    out = tmp_path / "org"
    generate_org(out, OrgSpec(reps=24, bad_rows=False), apis=True)
    return out


def test_the_salesforce_data_syncs_like_the_csv_drops(
    synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        payloads.OBJECTS,
        "Coaching_Report_vod__c",
        {**payloads.OBJECTS["Coaching_Report_vod__c"], **EXTRA_FIELDS},
    )
    capabilities = load_capability_map(DEMO / "capabilities.yaml")
    files = open_store(f"sqlite:///{tmp_path / 'files.db'}")
    crm = {
        "users": {"path": str(synthetic / "crm" / "users.csv")},
        "reports": {"path": str(synthetic / "crm" / "coaching_reports.csv")},
        "calls": {"path": str(synthetic / "crm" / "calls.csv")},
    }
    coaching = CoachingFileConnector(
        CoachingFileConfig.model_validate({"type": "file-coaching", "timezone": ZONE, **crm}),
        ConnectorContext("crm", synthetic, capabilities, RUN_DATE),
    )
    _pull(files, capabilities, _people(synthetic, capabilities), coaching)

    org = FakeOrg(now=datetime(2026, 8, 1, 6, tzinfo=UTC), page_size=200)
    loaded = org.load(synthetic / "salesforce")
    assert set(loaded) == {"User", "Coaching_Report_vod__c", "Call2_vod__c"}
    org.tokens.add(TOKEN)
    config = SalesforceConfig.model_validate(
        {
            "type": "salesforce",
            "auth": {"type": "session", "instance_url": INSTANCE, "session_id": Resolved(TOKEN)},
            "timezone": ZONE,
            "profile": {
                "coaching_reports": {
                    "fields": {
                        "submitted_at": "Submitted_DateTime__c",
                        "comments": ["Comments__c"],
                        "next_steps": ["Agreed_Next_Steps__c"],
                    }
                },
                "advanced_coaching_reports": None,
            },
        }
    )
    salesforce = open_store(f"sqlite:///{tmp_path / 'salesforce.db'}")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.install(mock)
        connector = SalesforceConnector(
            config,
            ConnectorContext("crm", synthetic, capabilities, RUN_DATE),
            sleep=Sleeps(),
            clock=lambda: org.now,
        )
        _pull(salesforce, capabilities, _people(synthetic, capabilities), connector)

    from_files, from_salesforce = _stored(files), _stored(salesforce)
    assert len(from_files["observations"]) > 100
    assert from_salesforce == from_files


def test_bad_salesforce_rows_are_quarantined_not_lost(tmp_path: Path) -> None:
    out = tmp_path / "org"
    generate_org(out, OrgSpec(reps=120, bad_rows=False, bad_share=0.05), apis=True)
    org = FakeOrg(now=datetime(2026, 8, 1, 6, tzinfo=UTC))
    org.load(out / "salesforce")
    reports = org.tables["Coaching_Report_vod__c"].values()
    out_of_scale = [r for r in reports if 7 in r.values()]
    undated = [r for r in reports if r["Review_Date__c"] is None]
    strangers = [r for r in reports if str(r["Employee_vod__c"]).startswith("0051t")]
    calls = [r for r in org.tables["Call2_vod__c"].values() if r["Call_Date_vod__c"] is None]
    for bad in (out_of_scale, undated, strangers, calls):
        assert bad, "each kind of bad row is there"
    share = (len(out_of_scale) + len(undated) + len(strangers)) / len(reports)
    assert 0.02 < share < 0.09
