"""The write-back tag: stable per record key, different across keys, no personal data in it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from adoptloop.connectors.lms.writeback import reference
from adoptloop.domain import TranscriptRecord

RECORD = TranscriptRecord(
    key="HR-0042/objection-handling/adopted",
    hr_id="HR-0042",
    lms_user_id="u-77",
    capability_id="objection-handling",
    capability_name="Objection handling",
    state="adopted",
    observed_on=date(2026, 3, 2),
)


def test_the_tag_is_a_short_digest_of_the_key() -> None:
    tag = reference(RECORD)
    assert re.fullmatch(r"adoptloop:[0-9a-f]{12}", tag)
    assert "HR-0042" not in tag


def test_the_tag_depends_on_the_key_only() -> None:
    assert reference(replace(RECORD, lms_user_id="u-78", observed_on=date(2026, 4, 1))) == (
        reference(RECORD)
    )
    assert reference(replace(RECORD, key="HR-0042/objection-handling/sustained")) != (
        reference(RECORD)
    )
