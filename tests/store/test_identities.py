"""store/identities.py on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from adoptloop.store import identities, records
from adoptloop.store.identities import Identity
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
