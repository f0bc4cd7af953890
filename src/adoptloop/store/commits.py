"""A write transaction shared by many batches, committed every so many rows or seconds.

Large tables make every commit rewrite many index pages, so a bulk stage should not commit
after each small batch; other writers (the run lock's heartbeat, delivery workers) wait on an
open write transaction, so it should not stay open long either.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection


class Commits:
    """Batches written on `conn`, committed once `rows` rows or `seconds` have gone by.

    `close()` commits what was written (also when the caller failed between batches), unless
    a write itself failed, which rolls back to the last commit.
    """

    def __init__(self, conn: Connection, *, rows: int, seconds: float) -> None:
        self.conn = conn
        self.rows = rows
        self.seconds = seconds
        self.pending = 0
        self.since: float | None = None
        self.broken = False

    def write(self, write: Callable[[], None], rows: int) -> None:
        if self.since is None:
            self.since = time.monotonic()
        self.broken = True
        write()
        self.broken = False
        self.pending += rows
        if self.pending >= self.rows or time.monotonic() - self.since >= self.seconds:
            self.commit()

    def commit(self) -> None:
        self.conn.commit()
        self.pending, self.since = 0, None

    def close(self) -> None:
        if self.broken:
            self.conn.rollback()
        else:
            self.commit()
