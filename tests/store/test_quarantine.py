"""Quarantine: one entry per record, refreshed on re-runs, resolved when the record is used."""

from __future__ import annotations

from sqlalchemy import Engine

from adoptloop.store import quarantine
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
