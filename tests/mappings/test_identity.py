"""Identity rules (mappings/identity.py): pure matching against a lookup of who has what."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from adoptloop.domain import PersonRef
from adoptloop.mappings.identity import IdentityRule, Match, match_accounts

PEOPLE = {
    "hr_id": {"E1": {"E1"}, "E2": {"E2"}},
    "email": {"ana@example.com": {"E1"}, "shared@example.com": {"E1", "E2"}},
    "employee_number": {"100": {"E2"}},
}
RULES = [
    IdentityRule(attribute="FederationIdentifier", person_field="hr_id"),
    IdentityRule(attribute="EmployeeNumber", person_field="employee_number"),
    IdentityRule(attribute="Email", person_field="email"),
]


class Lookup:
    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str]]] = []

    def __call__(self, field: str, values: Sequence[str]) -> Mapping[str, Set[str]]:
        self.asked.append((field, sorted(values)))
        return {v: PEOPLE[field][v] for v in values if v in PEOPLE[field]}


def ref(external_id: str, **attributes: str) -> PersonRef:
    return PersonRef("crm", external_id, attributes)


def test_rules_are_tried_in_order_and_the_first_that_matches_wins() -> None:
    both = ref("U1", FederationIdentifier="E1", EmployeeNumber="100")

    found = match_accounts(RULES, [both], Lookup())

    assert found == {("crm", "U1"): Match("E1", "FederationIdentifier->hr_id")}


def test_an_account_goes_on_to_the_next_rule_when_a_rule_finds_nobody() -> None:
    later = ref("U2", FederationIdentifier="E404", EmployeeNumber="100")

    assert match_accounts(RULES, [later], Lookup()) == {
        ("crm", "U2"): Match("E2", "EmployeeNumber->employee_number")
    }


def test_a_value_two_people_share_matches_nobody() -> None:
    assert match_accounts(RULES, [ref("U3", Email="shared@example.com")], Lookup()) == {}


def test_emails_are_compared_lower_case() -> None:
    found = match_accounts(RULES, [ref("U4", Email="Ana@Example.COM")], Lookup())

    assert found == {("crm", "U4"): Match("E1", "Email->email")}


def test_one_lookup_per_rule_for_all_pending_accounts_and_none_without_values() -> None:
    lookup = Lookup()
    refs = [ref("U5", FederationIdentifier="E1"), ref("U6", FederationIdentifier="E2")]

    found = match_accounts(RULES, refs, lookup)

    assert set(found) == {("crm", "U5"), ("crm", "U6")}
    assert lookup.asked == [("hr_id", ["E1", "E2"])]  # nothing left for the later rules
