"""The tag a transcript write-back embeds in what it writes, so that a retry finds it written."""

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
