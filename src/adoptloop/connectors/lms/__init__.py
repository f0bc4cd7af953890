"""LMS connectors: Moodle, SAP SuccessFactors Learning, Cornerstone, Docebo.

Each yields `Completion`s whose learner is a `PersonRef` carrying the attributes its identity
rules match on (email, employee number, ...). Moodle and SuccessFactors also implement the
transcript write-back (`SupportsWriteBack`); see `adoptloop.store.writeback`.
"""

from __future__ import annotations

import hashlib

from adoptloop.domain import TranscriptRecord


def reference(record: TranscriptRecord) -> str:
    """A short, stable tag for a record's key, embedded in what is written to the LMS.

    It carries no personal data (the key holds the hr_id), and finding it on the learner's
    transcript tells a retry that an earlier attempt already landed.
    """
    digest = hashlib.sha256(record.key.encode()).hexdigest()[:12]
    return f"adoptloop:{digest}"
