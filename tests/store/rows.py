"""Rows for the store's tables, as the pull writes them, for tests that fill a store directly."""

from __future__ import annotations

from typing import Any


def completion_row(source: str, record_id: str, **fields: Any) -> dict[str, Any]:
    """A completions row of `source` (a completion of module M1 by E1 on 2026-03-02, digest
    "d", never translated), with `fields` in place of those."""
    return {
        "source": source,
        "record_id": record_id,
        "hr_id": "E1",
        "module_id": "M1",
        "module_title": "Module one",
        "status": "completed",
        "completed_at": "2026-03-02T10:00:00.000Z",
        "score": None,
        "digest": "d",
        "translated_digest": None,
        "deleted": False,
    } | fields
