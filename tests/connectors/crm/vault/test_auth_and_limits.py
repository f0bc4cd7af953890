"""Issue 18, points 2, 3 and 4: session auth checked in the body, expired page cursors,
burst-limit pacing and Vault's limits as stop-and-checkpoint."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from adoptloop.domain import Checkpoint, CoachingObservation, Deleted, Stopped
from adoptloop.http.client import AuthFailed
from adoptloop.store import source_reads
from adoptloop.testing.kit import domain_records, drain, key_of, last_cursor
from tests.connectors.crm.vault.fake_vault import USERNAME, FakeVault
from tests.connectors.crm.vault.scenario import Org, Pipeline, connector, make_config, seed


def _org(reports: int = 6, page: int = 2) -> Org:
    vault = FakeVault(page_size_cap=page)
    org = seed(vault)
    for day in range(1, reports + 1):
        org.report(org.reps[day % 3], datetime(2026, 2, day, 15, tzinfo=UTC))
    vault.tick(minutes=5)
    return org


def test_a_refused_password_is_auth_failed_naming_the_source_exit_3() -> None:
    """Point 2: USERNAME_OR_PASSWORD_INCORRECT (HTTP 200, FAILURE) -> exit 3, source named."""
    org = _org()
    config = make_config(auth={"username": USERNAME, "password": SecretStr("wrong")})
    with pytest.raises(AuthFailed) as raised:
        drain(connector(org.vault, config), "users")
    assert raised.value.exit_code == 3
    assert "'crm'" in str(raised.value)
    assert "USERNAME_OR_PASSWORD_INCORRECT" in str(raised.value)
    assert "wrong" not in str(raised.value)


def test_an_expired_session_mid_read_logs_in_again_and_reads_everything() -> None:
    """Point 2: INVALID_SESSION_ID arrives with HTTP 200; the body decides, one new login."""
    org = _org()
    org.vault.expire_session_in = 3  # a few calls into the coaching read
    items = drain(connector(org.vault), "coaching_reports")
    observations = {key_of(r) for r in domain_records(items)}
    assert observations == set(org.vault.tables["survey_target__v"])
    assert org.vault.log.count("POST auth") == 2


def test_an_expired_page_cursor_restarts_the_window_from_the_last_record_read() -> None:
    """Point 3: a next_page Vault no longer knows is queried again from the last position."""
    org = _org(reports=7, page=2)
    conn = connector(org.vault)
    seen: list[str] = []
    for item in conn.read("coaching_reports", None):
        if isinstance(item, CoachingObservation):
            seen.append(item.source_record_id)
            if len(seen) == 3:
                org.vault.expire_page_cursors()
    assert sorted(set(seen)) == sorted(org.vault.tables["survey_target__v"])


def test_records_sharing_a_modified_date_across_pages_are_read_once_each_across_a_stop() -> None:
    """Point 3: (modified_date__v, id) positions; a stop between pages loses nothing."""
    org = _org(reports=6, page=2)
    shared = datetime(2026, 3, 2, 8, 1, tzinfo=UTC)
    for target in org.vault.tables["survey_target__v"]:
        org.vault.update("survey_target__v", target, at=shared)
    org.vault.limit_in = 6  # runs out in the middle of the targets' pages
    first = drain(connector(org.vault), "coaching_reports")
    assert isinstance(first[-1], Stopped)
    org.vault.limit_in = None
    rest = drain(connector(org.vault), "coaching_reports", last_cursor(first))
    read = [key_of(r) for r in domain_records(first + rest)]
    assert set(read) == set(org.vault.tables["survey_target__v"])


def test_api_limit_exceeded_stops_at_the_last_checkpoint_and_the_run_exits_75(
    tmp_path: Path,
) -> None:
    """Point 4: API_LIMIT_EXCEEDED -> a Stopped item; the later streams are skipped; the next
    run resumes; `status` says why the source stopped, with the calls and delays."""
    org = _org(reports=6)
    org.vault.limit_in = 12
    pipeline = Pipeline(tmp_path, org.vault)
    pipeline.run()
    with pipeline.engine.connect() as conn:
        read = source_reads.latest_reads(conn)["crm"]
    assert read.stopped_reason is not None
    assert "API limit exceeded" in read.stopped_reason
    assert "API calls" in read.stopped_reason
    org.vault.limit_in = None
    pipeline.run()
    ratings = [k for k in pipeline.standing() if k.startswith("rating/")]
    assert len(ratings) == 12  # six reports, two rated answers each


def test_the_auth_endpoints_burst_limit_stops_the_read() -> None:
    """Point 4: the auth endpoint's own limit answers API_LIMIT_EXCEEDED: stop, not fail."""
    org = _org()
    org.vault.auth_limited = True
    items = drain(connector(org.vault), "users")
    assert [type(i) for i in items] == [Stopped]


def test_burst_limit_headroom_pauses_one_window_and_response_delays_are_logged() -> None:
    """Point 4: BurstLimitRemaining at the headroom -> pause; ResponseDelay -> a warning."""
    org = _org(reports=6, page=1)
    org.vault.burst_limit = 20
    config = make_config(sync={"burst_headroom": 0.25})
    items = drain(connector(org.vault, config), "coaching_reports")
    assert isinstance(items[-1], Checkpoint)
    assert org.vault.sleeps
    assert all(s == 300.0 for s in org.vault.sleeps)
    org.vault.burst_limit = 2  # every answer is delayed now
    org.vault.burst_used = 5
    with capture_logs() as logs:
        drain(connector(org.vault, make_config(sync={"burst_headroom": 0.0})), "users")
    assert any(e.get("delay_ms") == 500 for e in logs)


def test_deletions_are_read_for_every_interval_since_the_last_complete_read() -> None:
    """Point 3: a report deleted while a run was stopped is still found by the next one."""
    org = _org(reports=3)
    cursor = last_cursor(drain(connector(org.vault), "coaching_reports"))
    victim = next(iter(org.vault.tables["survey_target__v"]))
    org.vault.delete("survey_target__v", victim)
    org.vault.tick(days=2)
    org.vault.limit_in = 0
    stopped = drain(connector(org.vault), "coaching_reports", cursor)
    assert isinstance(stopped[-1], Stopped)
    org.vault.limit_in = None
    org.vault.tick(days=3)
    items = drain(connector(org.vault), "coaching_reports", last_cursor(stopped) or cursor)
    assert [d.record_id for d in items if isinstance(d, Deleted)] == [victim]
    assert date(2026, 3, 7) <= org.vault.now.date()
