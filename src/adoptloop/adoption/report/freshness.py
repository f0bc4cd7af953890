"""Data freshness for the report: each source's last complete read, and whether it is stale.

A source is stale when its last complete read (a read that went to the end of the source) is
older than `stale_after_days` (adoption.report.stale_after_days, 2 by default) before the report
was generated, when it never completed a read, or when its latest read stopped early (the API
budget, an interruption). The report then puts freshness at the top, in red; otherwise at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from adoptloop.adoption.report.data import Freshness
from adoptloop.store import metrics as store
from adoptloop.store import source_reads

if TYPE_CHECKING:
    from sqlalchemy import Connection


def freshness(conn: Connection, now: datetime, stale_after_days: int) -> list[Freshness]:
    """Per source read so far: its last complete read, its newest record, stale or not."""
    latest, people_newest = store.newest_dates(conn)
    limit = now - timedelta(days=stale_after_days)
    out = []
    for name, read in source_reads.latest_reads(conn).items():
        newest = max(latest.get(name, [""])) or people_newest or None
        reason = ""
        if read.stopped_reason is not None:
            reason = f"its latest read stopped early ({read.stopped_reason})"
        elif read.complete_at is None:
            reason = "no read of it has gone to the end yet"
        elif _parsed(read.complete_at) < limit:
            age = (now - _parsed(read.complete_at)).days
            reason = (
                f"last complete read {age} days ago, older than the {stale_after_days}-day limit"
            )
        out.append(Freshness(name, read.complete_at, newest, stale=bool(reason), reason=reason))
    return out


def _parsed(stamp: str) -> datetime:
    """The store's UTC timestamp text ("...Z"); one without a zone is read as UTC."""
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
