"""The shared config field types: here, the IANA time zone every connector's dates rely on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adoptloop.fields import Frozen, TimeZone


class Zoned(Frozen):
    timezone: TimeZone = "UTC"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "America/New_York"])
def test_an_iana_zone_is_taken_as_written(zone: str) -> None:
    assert Zoned(timezone=zone).timezone == zone


@pytest.mark.parametrize("zone", ["Europe/Madird", "CEST", "+01:00", ""])
def test_anything_else_is_refused_with_an_example_of_a_zone(zone: str) -> None:
    with pytest.raises(ValidationError, match=r"is not an IANA time zone \(e\.g\. Europe/Berlin\)"):
        Zoned(timezone=zone)
