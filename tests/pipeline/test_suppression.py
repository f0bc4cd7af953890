"""Issue 15 point 2: the suppression list recognises an erased person by any identifier, keyed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from adoptloop.domain import ERASED, CoachingObservation, PersonRef
from adoptloop.mappings.identity import IdentityRule
from adoptloop.mappings.translate import TranslateContext
from adoptloop.pipeline.erase import erase_person
from adoptloop.pipeline.suppression import Suppression, without_erased
from adoptloop.pipeline.translate import Finalizer
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import records, schema
from adoptloop.store.db import open_store
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace
from tests.support import DEMO_CONFIG, hr_row

KEY = b"k" * 16
RULES = [IdentityRule(attribute="FederationIdentifier", person_field="hr_id")]


def suppression_of(*identifiers: tuple[str, str]) -> Suppression:
    suppression = Suppression(KEY)
    for kind, value in identifiers:
        suppression.add(kind, value)
    return suppression


def test_an_hr_row_is_recognised_by_its_email_or_employee_number_under_another_hr_id() -> None:
    suppression = suppression_of(
        ("hr_id", "E1"), ("email", "Ana@Example.com"), ("employee_number", "100001")
    )
    assert suppression.person(hr_row("E1"))
    assert suppression.person(hr_row("E9", email=" ana@example.COM "))
    assert suppression.person(hr_row("E9", employee_number="100001"))
    assert not suppression.person(hr_row("E9", email="bo@example.com", employee_number="100002"))


def test_an_account_is_recognised_by_its_id_a_rule_attribute_or_an_email_attribute() -> None:
    suppression = suppression_of(
        ("hr_id", "E1"), ("email", "ana@example.com"), ("account:crm", "U1")
    )
    assert suppression.account(PersonRef("crm", "U1"), [])
    assert not suppression.account(PersonRef("lms", "U1"), [])  # another system's U1
    assert suppression.account(PersonRef("crm", "U7", {"FederationIdentifier": "E1"}), RULES)
    assert suppression.account(PersonRef("lms", "u9", {"user_email": "ANA@example.com"}), [])
    assert not suppression.account(PersonRef("crm", "U8", {"FederationIdentifier": "E2"}), RULES)
    assert suppression.key("crm", "U1")
    assert suppression.key("hris", "E1")


def test_a_record_naming_an_erased_observer_keeps_waiting_without_him() -> None:
    visit = CoachingObservation(
        source_record_id="R1",
        observer=PersonRef("crm", "U1"),
        observed=PersonRef("crm", "U2"),
        visit_date=hr_row("E1").valid_from,
        timezone="UTC",
        status="Submitted",
        counted=True,
        submitted_at=None,
        modified_at=None,
        ratings=(),
        has_next_step=False,
        names_capability=False,
        word_count=0,
    )
    assert without_erased(visit, lambda ref: ref.external_id == "U2") is None
    kept = without_erased(visit, lambda ref: ref.external_id == "U1")
    assert isinstance(kept, CoachingObservation)
    assert kept.observer == PersonRef("crm", ERASED)
    assert kept.observed == visit.observed


def test_the_store_keeps_only_keyed_digests_of_the_erased_identifiers(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path}/store.db")
    with engine.begin() as conn:
        records.upsert_people(conn, [hr_row("E1", "ana@example.com", "100001")])
        conn.execute(
            schema.identities.insert().values(
                system="crm", external_id="U1", hr_id="E1", matched_by="Email->email"
            )
        )
    ctx = TranslateContext(
        Namespace("https://xapi.example.com/a"),
        Pseudonymizer("https://hr.example.com", KEY),
        load_capability_map(DEMO_CONFIG.parent / "demo" / "capabilities.yaml"),
    )
    with engine.begin() as conn:
        result = erase_person(
            conn,
            Finalizer(ctx, "1.0.3"),
            Suppression.load(conn, KEY),
            {"crm": RULES},
            "E1",
            run_id="r",
            now="2026-01-01T00:00:00.000Z",
        )
        digests = set(conn.execute(select(schema.suppressed.c.digest)).scalars())
        again = Suppression.load(conn, KEY)
    assert result.counts["identifiers_suppressed"] == len(digests) == 4
    assert not {"E1", "ana@example.com", "100001", "U1"} & digests
    assert "E1" in again
    assert again.account(PersonRef("crm", "U1"), [])
    assert again.person(hr_row("E2", email="ana@example.com"))
    with engine.connect() as conn:  # the digests mean nothing under another key
        assert not Suppression.load(conn, b"another key 0123").person(hr_row("E1"))
    engine.dispose()
