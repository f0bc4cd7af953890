"""Identity rules: which HR person a source system's account is (pure: no store, no I/O).

A source lists rules, tried in order, e.g. Salesforce FederationIdentifier -> hr_id, then
EmployeeNumber -> employee_number, then Email -> email. A rule matches an account when exactly
one person has that value (emails compared lower-case); an account no rule matches is left to
the caller to park or quarantine. Who has which value is asked of a lookup the caller passes in
(the pipeline answers it from the store: pipeline/identity.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from adoptloop.domain import PersonRef

PersonField = Literal["hr_id", "email", "employee_number"]

# person_field, values -> value -> the HR ids of the people who have it
PeopleLookup = Callable[[str, Sequence[str]], Mapping[str, Set[str]]]


class IdentityRule(BaseModel):
    """Match a source attribute (a column, a User field) to a field of the HR record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attribute: str
    person_field: PersonField


@dataclass(frozen=True, slots=True)
class Match:
    hr_id: str
    matched_by: str  # "<attribute>-><person_field>"


def match_accounts(
    rules: Sequence[IdentityRule], refs: Sequence[PersonRef], people: PeopleLookup
) -> dict[tuple[str, str], Match]:
    """(system, external_id) -> Match for every ref a rule matches: per rule, one lookup for
    all refs still unmatched; a ref without the rule's attribute, or whose value more (or
    fewer) than one person has, goes on to the next rule."""
    found: dict[tuple[str, str], Match] = {}
    pending = list(refs)
    for rule in rules:
        wanted: dict[str, list[PersonRef]] = defaultdict(list)
        rest: list[PersonRef] = []
        for ref in pending:
            value = ref.attributes.get(rule.attribute)
            if not value:
                rest.append(ref)
                continue
            wanted[value.lower() if rule.person_field == "email" else value].append(ref)
        who = people(rule.person_field, list(wanted)) if wanted else {}
        for value, waiting in wanted.items():
            hr_ids = who.get(value, set())
            if len(hr_ids) == 1:
                match = Match(next(iter(hr_ids)), f"{rule.attribute}->{rule.person_field}")
                for ref in waiting:
                    found[(ref.system, ref.external_id)] = match
            else:
                rest.extend(waiting)
        pending = rest
    return found
