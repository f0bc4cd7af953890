"""SOQL in the query URL (issue 17, point 1: the pull's own cost per HTTP request)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

from adoptloop.domain import FieldInteraction
from adoptloop.mappings.capability_map import CapabilityMap
from tests.connectors.crm.salesforce.fake_org import FakeOrg, query_string
from tests.connectors.crm.salesforce.harness import connector, make_config, read, records
from tests.connectors.crm.salesforce.scenario import Veeva


def test_a_lookups_soql_is_sent_with_quotes_commas_and_parentheses_unescaped(
    org: FakeOrg, veeva: Veeva, rsa_key: tuple[str, Any], capabilities: CapabilityMap
) -> None:
    """Issue 17 point 1: a lookup's `IN ('id', 'id', ...)` goes into the URL with spaces as
    "+" and its quotes, commas and parentheses as they are (valid in a URL query), so that
    requests and urllib3 check the URL on their fast paths rather than byte by byte; Salesforce
    reads the same SOQL."""
    calls = [veeva.call(veeva.reps[0], date(2026, 1, d)) for d in range(1, 4)]
    veeva.ride_along(calls[0])
    org.tick(minutes=1)

    items, _ = read(connector(org, make_config(org, rsa_key[0]), capabilities), "calls")

    assert {i.source_record_id for i in records(items, FieldInteraction)} == set(calls)
    lookups = [u for u in org.urls if " IN (" in query_string(u).get("q", "")]
    assert lookups  # the ride-along children were looked up by parent id
    for url in lookups:
        raw = urlsplit(url).query
        assert "+IN+('" in raw
        assert "%27" not in raw
        assert "%28" not in raw
        assert "%2C" not in raw
