"""pipeline/translate.py: a store row becomes the typed record its translator takes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from adoptloop.domain import Rating
from adoptloop.mappings.capability_map import OutOfScaleError
from adoptloop.mappings.records import StoredObservation
from adoptloop.pipeline.translate import as_record
from adoptloop.settings.capabilities import load_capability_map
from tests.support import DEMO_CONFIG

DEMO_CAPABILITIES = DEMO_CONFIG.parent / "demo" / "capabilities.yaml"


def _observation() -> dict[str, Any]:
    return {
        "source": "crm",
        "record_id": "R1",
        "observer_hr_id": "M1",
        "observed_hr_id": "E1",
        "visit_date": date(2026, 3, 2),
        "timezone": "UTC",
        "status": "submitted",
        "counted": True,
        "submitted_at": None,
        "modified_at": None,
        "has_next_step": False,
        "names_capability": False,
        "word_count": 0,
        "deleted": False,
        "digest": "d",
        "translated_digest": None,
    }


def _rating(item: str, raw: float, low: float | None, high: float | None) -> dict[str, Any]:
    scaled = 0.0 if low is None or high is None else (raw - low) / (high - low)
    return {
        "item": item,
        "capability_id": "x",
        "raw": raw,
        "scale_min": low,
        "scale_max": high,
        "scaled": scaled,
    }


def test_a_rating_keeps_the_scale_it_was_stored_with() -> None:
    record = as_record("observations", _observation(), [_rating("Opening_Rating__c", 3, 0, 4)])
    assert isinstance(record, StoredObservation)
    assert record.ratings == (Rating("Opening_Rating__c", "x", 3, 0, 4, 0.75),)


def test_a_rating_stored_without_a_scale_is_rated_by_the_capability_map_it_is_back_in() -> None:
    """A v2 rating whose item was missing from the map at the upgrade is translatable again
    once the map has the item (instead of staying unscaled for ever)."""
    capabilities = load_capability_map(DEMO_CAPABILITIES)
    row = _rating("Opening_Rating__c", 4, None, None)
    record = as_record("observations", _observation(), [row], capabilities)
    assert isinstance(record, StoredObservation)
    assert record.ratings == (capabilities.rate("Opening_Rating__c", 4),)
    assert record.ratings[0].scale_min == 1.0
    assert record.ratings[0].scaled == 0.75


def test_a_rating_without_a_scale_whose_item_is_not_mapped_is_not_translatable() -> None:
    capabilities = load_capability_map(DEMO_CAPABILITIES)
    with pytest.raises(KeyError, match="Gone_Rating__c"):
        as_record(
            "observations", _observation(), [_rating("Gone_Rating__c", 2, None, None)], capabilities
        )
    with pytest.raises(KeyError):
        as_record("observations", _observation(), [_rating("Opening_Rating__c", 2, None, None)])
    with pytest.raises(OutOfScaleError):
        as_record(
            "observations",
            _observation(),
            [_rating("Opening_Rating__c", 9, None, None)],
            capabilities,
        )
