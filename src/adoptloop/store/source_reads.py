"""Each source's latest read and its last complete one: what a run's outcome and `status` say.

`record_read` is called once per source per run, after its pull. A read that brought rows
replaces the source's figures (lines read, used, quarantined, held back); a read that brought
nothing (an unchanged file, a quiet night) keeps the figures of the read before, so a file
whose rows were mostly refused keeps saying so until a better file arrives. A read that went to
the end marks the source complete in that run; one stopped early (the API budget) keeps the
last complete run and says why it stopped. A snapshot whose deletions were held back (it shrank
too much) says so until a read applies one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from adoptloop.store import schema
from adoptloop.store.schema import utcnow


@dataclass(frozen=True, slots=True)
class SourceRead:
    source: str
    run_id: str | None  # the run of the latest read with rows; None: never read a row
    read_at: str | None
    lines: int
    used: int
    quarantined: int
    held_back: int
    complete_run_id: str | None
    complete_at: str | None
    stopped_reason: str | None
    held_reason: str | None = None

    @property
    def rejected_share(self) -> float:
        return self.quarantined / self.lines if self.lines else 0.0


def record_read(
    conn: Connection,
    source: str,
    run_id: str,
    *,
    lines: int,
    quarantined: int,
    held_back: int,
    stopped_reason: str | None,
    held_reason: str | None = None,
) -> None:
    """What this run's read of `source` brought; see the module docstring. `held_reason`:
    why a snapshot's deletions were held back in this read (None: nothing held back)."""
    t = schema.source_reads
    now = utcnow()
    current = conn.execute(select(t).where(t.c.source == source)).mappings().first()
    figures = {
        "run_id": run_id,
        "read_at": now,
        "lines": lines,
        "used": max(0, lines - quarantined - held_back),
        "quarantined": quarantined,
        "held_back": held_back,
    }
    values: dict[str, object] = dict(figures) if lines or current is None else {}
    values["held_reason"] = held_reason
    if stopped_reason is None:
        values.update(complete_run_id=run_id, complete_at=now, stopped_reason=None)
    else:
        values["stopped_reason"] = stopped_reason
    if current is None:
        conn.execute(t.insert().values(source=source, **values))
    else:
        conn.execute(t.update().where(t.c.source == source).values(**values))


def latest_reads(conn: Connection) -> dict[str, SourceRead]:
    t = schema.source_reads
    return {
        row.source: SourceRead(
            source=row.source,
            run_id=row.run_id if row.lines else None,
            read_at=row.read_at if row.lines else None,
            lines=row.lines,
            used=row.used,
            quarantined=row.quarantined,
            held_back=row.held_back,
            complete_run_id=row.complete_run_id,
            complete_at=row.complete_at,
            stopped_reason=row.stopped_reason,
            held_reason=row.held_reason,
        )
        for row in conn.execute(select(t).order_by(t.c.source))
    }
