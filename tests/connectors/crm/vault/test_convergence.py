"""Issue 18, done when: a backfill plus rounds of edits, deletes and a session expiry against a
Vault API end with exactly the org's live ratings as statements (real pipeline and store)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from tests.connectors.crm.vault.fake_vault import FakeVault
from tests.connectors.crm.vault.scenario import Pipeline, live_ratings, rating_statements, seed


def test_backfill_then_edits_deletes_and_a_session_expiry_end_with_the_live_ratings(
    tmp_path: Path,
) -> None:
    """Points 3 and 6: pages, shared modified dates, late edits, deletes, drafts, expiry."""
    vault = FakeVault(page_size_cap=3)
    org = seed(vault)
    reports = []
    for day in range(1, 15):
        rep = org.reps[day % 3]
        call = org.call(rep, date(2026, 2, day))
        if day % 2:
            org.ride_along(call)
        status = "in_progress__v" if day % 5 == 0 else "completed__v"
        reports.append(
            org.report(
                rep, datetime(2026, 2, day, 15, tzinfo=UTC), status=status, opening=day % 5 + 1
            )
        )
    # another survey type on the same object never counts
    org.report(org.reps[0], datetime(2026, 2, 3, 15, tzinfo=UTC), object_type="OOT000000000999")
    # several reports share one modified date across a page boundary
    shared = datetime(2026, 3, 2, 8, 0, 30, tzinfo=UTC)
    for target in reports[:7]:
        vault.update("survey_target__v", target, at=shared)
    vault.tick(minutes=5)
    pipeline = Pipeline(tmp_path, vault)
    pipeline.run()
    assert rating_statements(pipeline.standing()) == live_ratings(org)

    # round 1: a revised answer, a draft completed, a completed report deleted, an expiry
    vault.tick(hours=20)
    answer = org.answers(reports[0])[0]
    vault.update("question_response__v", answer, number__v=5)
    vault.update("survey_target__v", reports[4], report_status__v=["completed__v"])
    vault.delete("survey_target__v", reports[1])
    vault.expire_session_in = 4
    vault.tick(minutes=5)
    pipeline.run()
    assert rating_statements(pipeline.standing()) == live_ratings(org)

    # round 2: a late edit inside the look-back, a report back to draft, an answer deleted
    # (its report is re-read through its own change), a new report
    vault.tick(hours=20)
    stamp_before = vault.now
    vault.tick(minutes=5)
    pipeline.run()
    vault.update("question_response__v", org.answers(reports[2])[0], at=stamp_before, number__v=1)
    vault.update("survey_target__v", reports[3], report_status__v=["in_progress__v"])
    closing = org.answers(reports[5])[1]
    vault.delete("question_response__v", closing)
    vault.update("survey_target__v", reports[5])
    org.report(org.reps[2], datetime(2026, 3, 3, 9, tzinfo=UTC), opening=5, closing="5")
    vault.expire_sessions()
    vault.tick(minutes=5)
    pipeline.run()
    assert rating_statements(pipeline.standing()) == live_ratings(org)
