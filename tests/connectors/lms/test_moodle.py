"""Moodle: the connector kit, Moodle's 200-with-exception errors, polling, and write-back."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from bench.synthetic import CAPABILITIES, MODULES, OrgSpec, generate_org
from bench.synthetic.apis import MODULE_COURSES
from pydantic import SecretStr
from sqlalchemy import Engine

from adoptloop.connectors.base import ConnectorContext
from adoptloop.connectors.lms.moodle import (
    FieldObservedActivities,
    MoodleConfig,
    MoodleConnector,
    MoodleWriteBack,
)
from adoptloop.domain import Completion, Deleted, Person, TranscriptRecord, WriteBackResult
from adoptloop.http.client import AuthFailed
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile
from adoptloop.pipeline.publish import publish_writebacks
from adoptloop.store.db import open_store
from adoptloop.store.writeback import audit_rows
from adoptloop.testing.kit import (
    ConnectorContract,
    FakeVendor,
    RecordingSleep,
    domain_records,
    drain,
    last_cursor,
    make_context,
    minimal_capabilities,
    rejected,
)
from tests.connectors.lms.fake_moodle import (
    ADOPTED_CM,
    COURSE,
    SUSTAINED_CM,
    TOKEN,
    WRITEBACK_COURSE,
    FakeMoodle,
)

MAP = {f"course:{COURSE}": ["objection-handling"], "cm:55": ["objection-handling"]}
MODULES_BY_ID = {module_id: CAPABILITIES[index] for module_id, _, index, _ in MODULES}


def moodle(
    site: FakeMoodle,
    *,
    run_date: date = date(2024, 3, 10),
    token: str = TOKEN,
    modules: dict[str, list[str]] | None = None,
    sleep: RecordingSleep | None = None,
) -> MoodleConnector:
    config = MoodleConfig(
        type="moodle",
        base_url=site.api.base_url,
        token=SecretStr(token),
        page_size=2,
        write_back=MoodleWriteBack(
            course_id=WRITEBACK_COURSE,
            activities={
                "objection-handling": FieldObservedActivities(
                    adopted=ADOPTED_CM, sustained=SUSTAINED_CM
                )
            },
        ),
    )
    context = make_context(
        minimal_capabilities(modules or {f"course:{COURSE}": ["objection-handling"]}),
        name="moodle",
        run_date=run_date,
    )
    return MoodleConnector(
        config, context, transport=site.api.transport(), sleep=sleep or RecordingSleep()
    )


class TestMoodleContract(ConnectorContract):
    stream = "completions"
    table = "completions"

    def make_vendor(self) -> FakeMoodle:
        return FakeMoodle()

    def capabilities(self) -> Any:
        return minimal_capabilities({f"course:{COURSE}": ["objection-handling"]})

    def seed_people(self, vendor: FakeVendor) -> list[Person]:
        assert isinstance(vendor, FakeMoodle)
        return vendor.people()

    def make_connector(
        self, vendor: FakeVendor, context: ConnectorContext, sleep: RecordingSleep
    ) -> MoodleConnector:
        assert isinstance(vendor, FakeMoodle)
        config = MoodleConfig(
            type="moodle", base_url=vendor.api.base_url, token=SecretStr(TOKEN), page_size=2
        )
        return MoodleConnector(config, context, transport=vendor.api.transport(), sleep=sleep)


# --- reading ---------------------------------------------------------------------------------


def test_course_completion_is_dated_with_the_latest_criterion_time() -> None:
    site = FakeMoodle()
    [key] = site.add(1)
    items = drain(moodle(site), "completions")
    [completion] = domain_records(items)
    assert isinstance(completion, Completion)
    assert completion.source_record_id == key
    assert completion.module_id == f"course:{COURSE}"
    assert completion.status == "completed"
    assert completion.completed_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert completion.learner.attributes["idnumber"].startswith("E")


def test_mapped_activity_completion_is_read_and_unmapped_ones_are_ignored() -> None:
    site = FakeMoodle()
    uid = site.enrol(completed=False)
    site.enrolments[(COURSE, uid)].activities = {55: (2, 1_704_153_600), 56: (1, 1_704_153_600)}
    items = drain(moodle(site, modules=MAP), "completions")
    [activity] = domain_records(items)
    assert isinstance(activity, Completion)
    assert (activity.module_id, activity.status) == ("cm:55", "passed")


def test_invalid_token_in_an_http_200_exception_body_fails_the_sync() -> None:
    site = FakeMoodle()
    site.add(1)
    sleep = RecordingSleep()
    with pytest.raises(AuthFailed, match="invalidtoken"):
        drain(moodle(site, token="wrong", sleep=sleep), "completions")
    assert sleep.calls == []


def test_a_per_learner_exception_quarantines_that_enrolment_only() -> None:
    site = FakeMoodle()
    good = site.add(1)
    broken = site.enrol()
    site.errors[("core_completion_get_course_completion_status", broken)] = {
        "exception": "moodle_exception",
        "errorcode": "nopermissions",
        "message": "Sorry, but you do not currently have permissions to do that",
    }
    items = drain(moodle(site), "completions")
    assert [c.source_record_id for c in domain_records(items) if isinstance(c, Completion)] == good
    [quarantined] = rejected(items)
    assert quarantined.record_key == f"course:{COURSE}:user:{broken}"
    assert "nopermissions" in quarantined.reason


def test_token_travels_in_the_form_body_never_in_the_url() -> None:
    site = FakeMoodle()
    site.add(2)
    drain(moodle(site), "completions")
    assert site.api.requests
    assert all(TOKEN not in str(r.url) for r in site.api.requests)


def test_settled_enrolments_are_not_polled_again_until_reconciliation() -> None:
    site = FakeMoodle()
    site.add(2)
    cursor = last_cursor(drain(moodle(site), "completions"))
    site.api.requests.clear()
    drain(moodle(site, run_date=date(2024, 3, 11)), "completions", cursor)
    polled = [r for r in site.api.requests if b"completion_status" in r.content]
    assert polled == []


def test_reconciliation_sends_deleted_for_a_completion_that_was_reset() -> None:
    site = FakeMoodle()
    keep, reset = site.add(2)
    cursor = last_cursor(drain(moodle(site), "completions"))
    reset_user = int(reset.rsplit(":", 1)[1])
    site.enrolments[(COURSE, reset_user)].completed = False

    items = drain(moodle(site, run_date=date(2024, 3, 17)), "completions", cursor)

    assert [i for i in items if isinstance(i, Deleted)] == [Deleted("completion", reset)]
    assert [c.source_record_id for c in domain_records(items) if isinstance(c, Completion)] == [
        keep
    ]


# --- write-back ------------------------------------------------------------------------------


def record(site: FakeMoodle, user_id: int, state: str = "adopted") -> TranscriptRecord:
    return TranscriptRecord(
        key=f"E{user_id}/objection-handling/{state}",
        hr_id=f"E{user_id}",
        lms_user_id=str(user_id),
        capability_id="objection-handling",
        capability_name="Objection handling",
        state="adopted" if state == "adopted" else "sustained",
        observed_on=date(2024, 3, 1),
    )


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path / 'store.db'}")


def test_write_back_completes_the_field_observed_activity(store: Engine) -> None:
    site = FakeMoodle()
    uid = site.enrol()
    summary = publish_writebacks(store, moodle(site), [record(site, uid)])
    assert [r.status for r in summary.results] == ["written"]
    assert site.overrides[0]["cmid"] == str(ADOPTED_CM)
    assert site.overrides[0]["newstate"] == "1"
    assert site.enrolments[(WRITEBACK_COURSE, uid)].activities[ADOPTED_CM][0] == 1


def test_write_back_is_idempotent_across_three_runs(store: Engine) -> None:
    site = FakeMoodle()
    uid = site.enrol()
    records = [record(site, uid), record(site, uid, "sustained")]
    for _ in range(3):
        publish_writebacks(store, moodle(site), records)
    assert sorted(o["cmid"] for o in site.overrides) == [str(ADOPTED_CM), str(SUSTAINED_CM)]
    with store.connect() as conn:
        rows = audit_rows(conn, "moodle")
    assert [(r["key"], r["status"]) for r in rows] == [
        (f"E{uid}/objection-handling/adopted", "written"),
        (f"E{uid}/objection-handling/sustained", "written"),
    ]


class CrashAfterSending:
    """The connector's write lands in Moodle, then the process dies before the audit commit."""

    def __init__(self, inner: MoodleConnector) -> None:
        self.inner = inner
        self.name = inner.name

    def write_back(
        self, records: Sequence[TranscriptRecord], *, dry_run: bool = False
    ) -> list[WriteBackResult]:
        self.inner.write_back(records, dry_run=dry_run)
        raise KeyboardInterrupt("killed between sending and recording")


def test_crash_between_sending_and_recording_is_found_already_present(store: Engine) -> None:
    site = FakeMoodle()
    uid = site.enrol()
    with pytest.raises(KeyboardInterrupt):
        publish_writebacks(store, CrashAfterSending(moodle(site)), [record(site, uid)])
    with store.connect() as conn:
        assert audit_rows(conn) == []  # the audit never heard of it

    second = publish_writebacks(store, moodle(site), [record(site, uid)])
    third = publish_writebacks(store, moodle(site), [record(site, uid)])

    assert [r.status for r in second.results] == ["already-present"]
    assert third.results == []
    assert third.skipped == [f"E{uid}/objection-handling/adopted"]
    assert len(site.overrides) == 1


def test_dry_run_shows_what_would_be_written_and_writes_nothing(store: Engine) -> None:
    site = FakeMoodle()
    uid = site.enrol()
    dry = publish_writebacks(store, moodle(site), [record(site, uid)], dry_run=True)
    assert [r.status for r in dry.results] == ["would-write"]
    assert "would complete activity 101" in dry.results[0].detail
    assert site.overrides == []

    real = publish_writebacks(store, moodle(site), [record(site, uid)])
    assert [r.status for r in real.results] == ["written"]


def test_write_back_without_an_activity_for_the_capability_fails_with_the_reason(
    store: Engine,
) -> None:
    site = FakeMoodle()
    uid = site.enrol()
    other = TranscriptRecord(
        key=f"E{uid}/scientific-exchange/adopted",
        hr_id=f"E{uid}",
        lms_user_id=str(uid),
        capability_id="scientific-exchange",
        capability_name="Scientific exchange",
        state="adopted",
        observed_on=date(2024, 3, 1),
    )
    [result] = publish_writebacks(store, moodle(site), [other]).results
    assert result.status == "failed"
    assert "no field-observed activity configured for scientific-exchange" in result.detail


def test_reconciliation_voids_the_completion_of_a_learner_who_was_unenrolled() -> None:
    site = FakeMoodle()
    keep, gone = site.add(2)
    cursor = last_cursor(drain(moodle(site), "completions"))
    del site.enrolments[(COURSE, int(gone.rsplit(":", 1)[1]))]

    items = drain(moodle(site, run_date=date(2024, 3, 17)), "completions", cursor)

    assert [i for i in items if isinstance(i, Deleted)] == [Deleted("completion", gone)]
    assert [c.source_record_id for c in domain_records(items) if isinstance(c, Completion)] == [
        keep
    ]


def test_a_course_moodle_refuses_keeps_its_completions_at_reconciliation() -> None:
    site = FakeMoodle()
    site.add(2)
    cursor = last_cursor(drain(moodle(site), "completions"))
    site.errors[("core_enrol_get_enrolled_users", 0)] = {
        "exception": "dml_missing_record_exception",
        "errorcode": "invalidrecord",
        "message": "Can't find data record in database table course.",
    }

    items = drain(moodle(site, run_date=date(2024, 3, 17)), "completions", cursor)

    assert [i for i in items if isinstance(i, Deleted)] == []
    [refused] = rejected(items)
    assert refused.record_key == f"course:{COURSE}"
    assert "invalidrecord" in refused.reason


def test_the_synthetic_orgs_moodle_data_gives_its_completions(tmp_path: Path) -> None:
    out = tmp_path / "org"
    generate_org(out, OrgSpec(reps=16, bad_rows=False), apis=True)
    site = FakeMoodle()
    site.load(out / "moodle")
    courses = {
        f"course:{course}": [MODULES_BY_ID[module]] for module, course in MODULE_COURSES.items()
    }
    capabilities = CapabilityMap(
        CapabilityMapFile.model_validate(
            {
                "scales": {"five": {"min": 1, "max": 5}},
                "capabilities": [{"id": c, "name": c, "threshold": 0.75} for c in CAPABILITIES],
                "modules": courses,
            }
        )
    )
    config = MoodleConfig(
        type="moodle", base_url=site.api.base_url, token=SecretStr(TOKEN), page_size=50
    )
    connector = MoodleConnector(
        config,
        make_context(capabilities, name="moodle"),
        transport=site.api.transport(),
        sleep=RecordingSleep(),
    )

    found = {
        (c.learner.external_id, c.module_id, c.completed_at)
        for c in domain_records(drain(connector, "completions"))
        if isinstance(c, Completion)
    }

    expected = set()
    with (out / "lms" / "completions.csv").open(encoding="utf-8", newline="") as fh:
        first: dict[tuple[str, str], str] = {}
        for row in csv.DictReader(fh):
            key = (str(int(row["user_id"].removeprefix("u"))), row["module_id"])
            if row["status"] != "failed" and key not in first:
                first[key] = row["completed_at"]
    for (user, module), at in first.items():
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        expected.add((user, f"course:{MODULE_COURSES[module]}", moment))
    assert found == expected
    assert len(found) > 40
