"""Quarantine: one entry per record, refreshed on re-runs, resolved when the record is used,
and retried on request."""

from __future__ import annotations

from sqlalchemy import Engine, select

from adoptloop.store import cursors, outbox, quarantine, schema
from adoptloop.store.outbox import Queued
from adoptloop.store.quarantine import QuarantineEntry


def test_quarantine_keeps_one_entry_per_record_and_resolves_it(engine: Engine) -> None:
    entry = QuarantineEntry("lms", "completions", "c1", "completions.csv:3", "bad date")
    with engine.begin() as conn:
        quarantine.quarantine(conn, "run-1", [entry])
        quarantine.quarantine(conn, "run-2", [entry])
    with engine.connect() as conn:
        assert quarantine.counts(conn) == [("lms", "completions", 1)]
        (row,) = quarantine.entries(conn)
        assert (row["first_seen_run"], row["last_seen_run"]) == ("run-1", "run-2")
        assert row["updated_at"] is not None
    with engine.begin() as conn:
        quarantine.resolve_quarantined(conn, "lms", "completions", ["c1"])
    with engine.connect() as conn:
        assert quarantine.counts(conn) == []


def test_retry_sends_rejections_again_remakes_statements_and_rereads_streams(
    engine: Engine,
) -> None:
    sid = "00000000-0000-4000-8000-000000000001"
    with engine.begin() as conn:
        outbox.enqueue(conn, [Queued(sid, "completed", b"{}", "E1")], "run-1")
        outbox.settle(conn, [sid], outbox.REJECTED, "w/1", error="HTTP 400")
        conn.execute(
            schema.completions.insert().values(
                source="lms",
                record_id="c1",
                hr_id="E1",
                module_id="m1",
                status="completed",
                completed_at="2026-01-01T00:00:00Z",
                digest="d1",
                translated_digest="d1",
            )
        )
        cursors.set_cursor(conn, "crm", "reports", "2026-01-01")
        quarantine.quarantine(
            conn,
            "run-1",
            [
                QuarantineEntry("lrs", "delivery", sid, "outbox", "HTTP 400: bad"),
                QuarantineEntry("lms", "statements", "c1", "completions c1", "invalid"),
                QuarantineEntry("lms", "statements", "x", "no_such_table x", "invalid"),
                QuarantineEntry("crm", "reports", "r1", "report.csv:3", "bad rating"),
            ],
        )

    with engine.begin() as conn:
        plan = quarantine.retry_plan(conn, source=None, stream=None)
        assert plan == quarantine.RetryPlan(
            statements=[sid],
            records=[("completions", "lms", "c1")],
            streams=[("crm", "reports")],
        )
        assert not quarantine.retry_plan(conn, source="hris", stream=None)
        quarantine.apply_retry(conn, plan)

    with engine.connect() as conn:
        assert outbox.counts(conn) == {"pending": 1}
        assert conn.execute(select(schema.completions.c.translated_digest)).scalar() is None
        assert cursors.get_cursor(conn, "crm", "reports") is None
        # the entries stay open until the retry succeeds
        assert quarantine.counts(conn) == [
            ("crm", "reports", 1),
            ("lms", "statements", 2),
            ("lrs", "delivery", 1),
        ]
        assert sorted(quarantine.counts_by_reason(conn)) == [
            ("crm", "reports", "bad rating", 1),
            ("lms", "statements", "invalid", 2),
            ("lrs", "delivery", "HTTP 400: bad", 1),
        ]
