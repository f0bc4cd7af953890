"""Issue 18, gap 1: malformed Vault answers are quarantined or retriable, never exit 3.

Exit 3 means credentials refused. A record the query answer spoils (no id, an unparsable or
missing modified date, a value of the wrong type) is quarantined naming object and record and
the rest of the page is read; a spoiled page is quarantined and the cursor stays at the last
page read; an answer that is not Vault's at all (a proxy's HTML page) is a RetriableError.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from adoptloop.domain import Checkpoint, Deleted, FieldInteraction, Rejected
from adoptloop.errors import RetriableError
from adoptloop.testing.kit import domain_records, drain, key_of, last_cursor, rejected
from tests.connectors.crm.vault.fake_vault import FakeVault
from tests.connectors.crm.vault.scenario import Org, connector, seed


def _org(calls: int) -> tuple[Org, list[str]]:
    vault = FakeVault(page_size_cap=2)
    org = seed(vault)
    keys = [org.call("4711", date(2026, 2, 1 + n)) for n in range(calls)]
    vault.tick(minutes=5)
    return org, keys


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ({"modified_date__v": "2026-02-30T10:00:00.000Z"}, "is not a date-time"),
        ({"id": None}, "id is missing"),
        ({"ownerid__v": ["4711", {"bad": 1}], "call2_status__v": {"x": 1}}, "call2_status__v"),
    ],
)
def test_a_malformed_record_in_a_window_is_quarantined_and_the_rest_read(
    spoil: dict[str, object], reason: str
) -> None:
    """Gap 1a: one spoiled row of a page -> Rejected naming it; its page-mates are read."""
    org, keys = _org(5)
    victim = keys[2]
    org.vault.tables["call2__v"][victim].update(spoil)
    items = drain(connector(org.vault), "calls")
    bad = rejected(items)
    assert len(bad) == 1
    assert reason in bad[0].reason
    assert "call2__v" in str(bad[0].location)
    read = {key_of(r) for r in domain_records(items) if isinstance(r, FieldInteraction)}
    assert read >= set(keys) - {victim}
    assert isinstance(items[-1], Checkpoint)


def test_a_malformed_second_page_keeps_the_first_and_the_next_run_reads_the_rest() -> None:
    """Gap 1a: page 2 without a data array -> quarantined, no checkpoint after it; the
    cursor stays after page 1 and the next read starts there."""
    org, keys = _org(5)
    org.vault.break_page("call2__v", 2)
    first = drain(connector(org.vault), "calls")
    page = [i for i in first if isinstance(i, Rejected)]
    assert [(r.record_key, r.reason) for r in page] == [
        ("page", "the Vault answer has no data array")
    ]
    assert "call2__v window, page 2" in str(page[0].location)
    assert not any(isinstance(i, Checkpoint) for i in first[first.index(page[0]) :])
    got_first = {key_of(r) for r in domain_records(first)}
    assert got_first == set(keys[:2])
    rest = drain(connector(org.vault), "calls", last_cursor(first))
    assert {key_of(r) for r in domain_records(rest)} == set(keys[2:])
    assert isinstance(rest[-1], Checkpoint)


def test_an_answer_that_is_not_vaults_is_retriable_not_exit_3() -> None:
    """Gap 1a: an HTML page from a proxy in place of the login answer -> exit 75, named."""
    org, _ = _org(1)
    org.vault.api.fail_next(
        httpx.Response(200, text="<html>Sign in</html>", headers={"Content-Type": "text/html"})
    )
    with pytest.raises(RetriableError) as raised:
        drain(connector(org.vault), "calls")
    assert raised.value.exit_code == 75
    assert "did not answer like a Vault API" in str(raised.value)
    assert "sources.crm.url" in str(raised.value)


def test_a_malformed_call_or_ride_along_never_deletes_the_stored_visit() -> None:
    """Gap 1a: a parent call that reads badly, reached through its changed ride-along, or a
    ride-along whose manager field has the wrong type, is quarantined, not a tombstone."""
    org, keys = _org(2)
    spoilt_parent, spoilt_child = keys
    org.ride_along(spoilt_parent)
    org.vault.tables["call2__v"][spoilt_parent]["call2_status__v"] = [{"name": "submitted__v"}]
    child = org.ride_along(spoilt_child)
    org.vault.tables["call2__v"][child]["user__v"] = {"id": org.manager}
    org.vault.tick(minutes=5)
    items = drain(connector(org.vault), "calls")
    assert not [i for i in items if isinstance(i, Deleted)]
    quarantined = {r.record_key for r in rejected(items)}
    assert quarantined == {spoilt_parent, spoilt_child}
    assert isinstance(items[-1], Checkpoint)


def test_a_coaching_report_with_a_malformed_date_time_is_quarantined_showing_its_shape_only() -> (
    None
):
    """Shared CRM row rules (connectors/crm/records.py RowReader.timestamp): a report whose
    submitted_datetime__v is free text is quarantined naming the field, and the reason shows the
    value's shape, never the text (quarantine keeps no free text), as on Salesforce."""
    org = seed(FakeVault())
    report = org.report(org.reps[0], datetime(2026, 2, 3, 15, tzinfo=UTC))
    org.vault.tables["survey_target__v"][report]["submitted_datetime__v"] = "Dr Smith, 2pm"
    org.vault.tick(minutes=5)
    bad = rejected(drain(connector(org.vault), "coaching_reports"))
    assert bad  # once per feed that brings the report (its own row, its answers)
    for entry in bad:
        assert entry.record_key == report
        assert "submitted_datetime__v: 'aa aaaaa, 9aa' is not a date-time" in entry.reason
        assert "Smith" not in entry.reason
