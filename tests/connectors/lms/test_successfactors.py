"""SuccessFactors Learning: the connector kit, OAuth, OData paging, and write-back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.lms.successfactors import SuccessFactorsConfig, SuccessFactorsConnector
from adoptloop.domain import Completion, Person, TranscriptRecord, WriteBackResult
from adoptloop.pipeline.publish import publish_writebacks
from adoptloop.store.db import open_store
from adoptloop.store.writeback import audit_rows
from adoptloop.testing.fake_api import json_response
from adoptloop.testing.kit import (
    ConnectorContract,
    FakeVendor,
    RecordingSleep,
    domain_records,
    drain,
    make_context,
    rejected,
)
from tests.connectors.lms.fake_successfactors import (
    CLIENT_ID,
    CLIENT_SECRET,
    HISTORY_PATH,
    STUDENT,
    FakeSuccessFactors,
)


def config(tenant: FakeSuccessFactors, **overrides: Any) -> SuccessFactorsConfig:
    values: dict[str, Any] = {
        "type": "successfactors",
        "base_url": tenant.api.base_url,
        "company_id": "ACME",
        "client_id": CLIENT_ID,
        "client_secret": SecretStr(CLIENT_SECRET),
        "admin_user": "sfadmin",
        "students": [STUDENT],
        "page_size": 2,
        "lookback_days": 0,
    }
    return SuccessFactorsConfig(**{**values, **overrides})


def connector(tenant: FakeSuccessFactors, **overrides: Any) -> SuccessFactorsConnector:
    return SuccessFactorsConnector(
        config(tenant, **overrides),
        make_context(name="sf"),
        transport=tenant.api.transport(),
        sleep=RecordingSleep(),
    )


class TestSuccessFactorsContract(ConnectorContract):
    stream = "completions"
    table = "completions"

    def make_vendor(self) -> FakeSuccessFactors:
        return FakeSuccessFactors()

    def seed_people(self, vendor: FakeVendor) -> list[Person]:
        assert isinstance(vendor, FakeSuccessFactors)
        return vendor.people()

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> SuccessFactorsConnector:
        assert isinstance(vendor, FakeSuccessFactors)
        return SuccessFactorsConnector(
            config(vendor), context, transport=vendor.api.transport(), sleep=sleep
        )


# --- reading ---------------------------------------------------------------------------------


def test_token_is_requested_with_the_sap_scope_and_reused_across_pages() -> None:
    tenant = FakeSuccessFactors()
    tenant.add(5)
    tenant.add(3, student="S2")
    drain(connector(tenant, students=[STUDENT, "S2"]), "completions")
    assert tenant.token_requests == [
        {
            "grant_type": "client_credentials",
            "scope": {
                "userId": "sfadmin",
                "companyId": "ACME",
                "userType": "admin",
                "resourceType": "learning_public_api",
            },
        }
    ]
    assert len(tenant.api.calls(HISTORY_PATH)) == 5  # 3 pages for S1, 2 for S2


def test_a_revoked_token_is_renewed_once_and_the_read_goes_on() -> None:
    tenant = FakeSuccessFactors()
    expected = tenant.add(4)
    sf = connector(tenant)
    drain(sf, "completions")
    tenant.revoke_tokens()
    items = drain(sf, "completions")
    assert len(tenant.token_requests) == 2
    assert sorted(
        c.source_record_id for c in domain_records(items) if isinstance(c, Completion)
    ) == sorted(expected)


def test_history_item_becomes_a_completion_dated_from_epoch_milliseconds() -> None:
    tenant = FakeSuccessFactors()
    [key] = tenant.add(1)
    [completion] = domain_records(drain(connector(tenant), "completions"))
    assert isinstance(completion, Completion)
    assert completion.source_record_id == key
    assert (completion.module_id, completion.status) == ("CRS-001", "completed")
    assert completion.completed_at == datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert completion.learner.attributes == {"studentID": STUDENT}


def test_unmapped_completion_status_is_quarantined_with_how_to_fix_it() -> None:
    tenant = FakeSuccessFactors()
    tenant.add(1)
    tenant.history[STUDENT][0]["completionStatusID"] = "ATTENDED"
    [bad] = rejected(drain(connector(tenant), "completions"))
    assert "'ATTENDED'" in bad.reason
    assert "statuses:" in bad.reason


def test_students_are_read_from_the_students_file(tmp_path: Path) -> None:
    tenant = FakeSuccessFactors()
    tenant.add(1, student="S7")
    listing = tmp_path / "students.txt"
    listing.write_text("# exported from HR\nS7\n\n", encoding="utf-8")
    items = drain(connector(tenant, students=[], students_file=listing), "completions")
    assert [c.learner.external_id for c in domain_records(items) if isinstance(c, Completion)] == [
        "S7"
    ]


# --- write-back ------------------------------------------------------------------------------


def record(n: int = 1, state: str = "adopted") -> TranscriptRecord:
    return TranscriptRecord(
        key=f"E{n}/objection-handling/{state}",
        hr_id=f"E{n}",
        lms_user_id=f"S{n}",
        capability_id="objection-handling",
        capability_name="Objection handling",
        state="adopted" if state == "adopted" else "sustained",
        observed_on=date(2024, 3, 1),
    )


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path / 'store.db'}")


def test_event_is_titled_field_observed_and_dated_with_the_observation(store: Engine) -> None:
    tenant = FakeSuccessFactors()
    [result] = publish_writebacks(store, connector(tenant), [record()]).results
    [[event]] = tenant.event_calls
    assert result.status == "written"
    assert event["studentID"] == "S1"
    assert event["description"].startswith("Field-observed: Objection handling [adoptloop:")
    assert event["completionDate"] == int(datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp() * 1000)
    assert result.external_id is not None
    assert result.external_id in event["description"]


def test_events_are_posted_at_most_ten_per_call(store: Engine) -> None:
    tenant = FakeSuccessFactors()
    records = [record(n) for n in range(1, 26)]
    summary = publish_writebacks(store, connector(tenant), records)
    assert [len(call) for call in tenant.event_calls] == [10, 10, 5]
    assert summary.counts() == {"skipped": 0, "written": 25}


def test_write_back_is_idempotent_across_three_runs(store: Engine) -> None:
    tenant = FakeSuccessFactors()
    records = [record(1), record(1, "sustained"), record(2)]
    for _ in range(3):
        publish_writebacks(store, connector(tenant), records)
    assert sum(len(call) for call in tenant.event_calls) == 3
    with store.connect() as conn:
        assert [r["status"] for r in audit_rows(conn, "sf")] == ["written"] * 3


class CrashAfterSending:
    def __init__(self, inner: SuccessFactorsConnector) -> None:
        self.inner = inner
        self.name = inner.name

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[WriteBackResult]:
        self.inner.write_back(records, dry_run=dry_run)
        raise KeyboardInterrupt("killed between sending and recording")


def test_crash_between_sending_and_recording_is_found_already_present(store: Engine) -> None:
    tenant = FakeSuccessFactors()
    with pytest.raises(KeyboardInterrupt):
        publish_writebacks(store, CrashAfterSending(connector(tenant)), [record()])
    second = publish_writebacks(store, connector(tenant), [record()])
    third = publish_writebacks(store, connector(tenant), [record()])
    assert [r.status for r in second.results] == ["already-present"]
    assert third.skipped == ["E1/objection-handling/adopted"]
    assert len(tenant.event_calls) == 1
    with store.connect() as conn:
        [row] = audit_rows(conn, "sf")
    assert (row["status"], row["observed_on"]) == ("already-present", date(2024, 3, 1))


def test_dry_run_says_what_it_would_post_and_posts_nothing(store: Engine) -> None:
    tenant = FakeSuccessFactors()
    [result] = publish_writebacks(store, connector(tenant), [record()], dry_run=True).results
    assert result.status == "would-write"
    assert "Field-observed: Objection handling" in result.detail
    assert tenant.event_calls == []
    with store.connect() as conn:
        assert [r["status"] for r in audit_rows(conn)] == ["would-write"]
    [real] = publish_writebacks(store, connector(tenant), [record()]).results
    assert real.status == "written"


def test_rejected_batch_is_audited_as_failed_with_the_answer(store: Engine) -> None:
    tenant = FakeSuccessFactors()
    tenant.api.route(
        "POST",
        "/learning/odatav4/public/admin/learningevent-service/v1/ExternalLearningEvents",
        lambda _r: json_response({"error": {"message": "studentID S1 does not exist"}}, 400),
        first=True,
    )
    [result] = publish_writebacks(store, connector(tenant), [record()]).results
    assert result.status == "failed"
    assert "studentID S1 does not exist" in result.detail
