"""store/identities.py on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from adoptloop.store import identities, records, schema
from adoptloop.store.db import open_store
from adoptloop.store.identities import Identity
from tests.store.plans import filled_after_its_statistics, rows_removed, statements_sent
from tests.support import hr_row


def test_people_by_finds_every_person_with_a_value_on_any_of_their_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        records.upsert_people(
            conn,
            [
                hr_row("E1", "old@x.io", "100", date(2026, 1, 1)),
                hr_row("E1", "new@x.io", "100", date(2026, 3, 1)),
                hr_row("E2", "new@x.io", "200", date(2026, 1, 1)),
            ],
        )
        assert identities.people_by(conn, "email", ["old@x.io", "new@x.io", "none@x.io"]) == {
            "old@x.io": {"E1"},
            "new@x.io": {"E1", "E2"},
        }
        assert identities.people_by(conn, "employee_number", ["200"]) == {"200": {"E2"}}
        with pytest.raises(ValueError, match="identity rules match on"):
            identities.people_by(conn, "region", ["North"])


def test_remembered_identities_are_known_per_system(engine: Engine) -> None:
    with engine.begin() as conn:
        identities.remember(
            conn,
            [Identity("crm", "U1", "E1", "Email->email"), Identity("lms", "U1", "E2", "x->hr_id")],
        )
        assert identities.known(conn, "crm", ["U1", "U2"]) == {"U1": "E1"}
        assert identities.known(conn, "lms", ["U1"]) == {"U1": "E2"}


def test_known_reads_each_id_through_the_primary_key_of_a_table_filled_in_the_pull(
    postgres_url: str,
) -> None:
    """PostgreSQL: the identities table is analyzed while empty and filled within the pull;
    as one IN list its lookup read every identity of the system and filtered them (10k reps:
    71 lookups, 1.6 s of the server's time). Each id is read through the primary key."""
    engine = open_store(postgres_url)
    try:
        filled_after_its_statistics(
            engine,
            schema.identities,
            ["system", "external_id", "hr_id", "matched_by"],
            [("crm", f"U{i:07d}", f"E{i}", "Email->email") for i in range(60_000)],
        )
        with engine.connect() as conn:
            ids = [*(f"missing{i}" for i in range(120)), "U0000007"]
            with statements_sent(engine) as sent:
                assert identities.known(conn, "crm", ids) == {"U0000007": "E7"}
            ((sql, params),) = sent
            assert rows_removed(conn, sql, params) == 0  # no identity read that was not asked for
    finally:
        engine.dispose()
