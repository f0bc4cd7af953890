"""Issue 17 (`pull_vs_bare_fetch`): a CRM read makes the values its rows repeat once.

A backfill maps hundreds of thousands of rows that name a few thousand users and give a few
dozen distinct ratings; building a new PersonRef or Rating for each was a measurable share of
the pull's Python per row. The records stay equal to what the mapping gave before.
"""

from __future__ import annotations

from datetime import date

import pytest

from adoptloop.connectors.crm.records import BadRow, Reuse, checked_ratings
from adoptloop.connectors.crm.salesforce.config import SalesforceConfig
from adoptloop.domain import CoachingObservation, FieldInteraction, PersonRef, Rating
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg
from tests.connectors.crm.salesforce.harness import connector, read, records
from tests.connectors.crm.salesforce.scenario import Veeva


def test_calls_of_one_rep_share_one_person_ref(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    for day in (24, 25, 26):
        veeva.call(veeva.reps[0], date(2026, 2, day))
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "calls")

    reps = [i.rep for i in records(items, FieldInteraction)]
    assert len(reps) == 3
    assert all(r == PersonRef("crm", veeva.reps[0]) for r in reps)
    assert reps[0] is reps[1] is reps[2]


def test_reports_with_the_same_rating_share_one_rating_and_one_observer(
    org: FakeOrg, veeva: Veeva, config: SalesforceConfig, capabilities: CapabilityMap
) -> None:
    veeva.report(veeva.reps[0], date(2026, 2, 24), Opening_Rating__c=4.0)
    veeva.report(veeva.reps[1], date(2026, 2, 25), Opening_Rating__c=4.0)
    org.tick(minutes=1)

    items, _ = read(connector(org, config, capabilities), "coaching_reports")

    first, second = records(items, CoachingObservation)
    assert first.ratings == second.ratings == (capabilities.rate("Opening_Rating__c", 4.0),)
    assert first.ratings[0] is second.ratings[0]
    assert first.observer is second.observer


def test_a_kept_rating_is_not_given_to_a_flag_equal_to_its_number(
    capabilities: CapabilityMap,
) -> None:
    reuse = Reuse("crm")
    (one,) = checked_ratings([("Opening_Rating__c", 1)], capabilities, {}, reuse)
    assert one == Rating("Opening_Rating__c", "opening", 1.0, 1.0, 5.0, 0.0)
    with pytest.raises(BadRow, match="is not a number"):
        checked_ratings([("Opening_Rating__c", True)], capabilities, {}, reuse)


@pytest.mark.parametrize("raw", [["4"], {"value": 4}])
def test_a_rating_that_is_a_list_or_an_object_is_a_bad_row_not_a_crash(
    capabilities: CapabilityMap, raw: object
) -> None:
    """Bad input gets a located error: a rating answered as a JSON list or object (which
    cannot be a key of the kept ratings) is a row defect, as it was before ratings were kept."""
    with pytest.raises(BadRow, match="is not a number"):
        checked_ratings([("Opening_Rating__c", raw)], capabilities, {}, Reuse("crm"))
