"""A write transaction shared by many batches, committed every so many rows or seconds.

Large tables make every commit rewrite many index pages, so a bulk stage should not commit
after each small batch; other writers (the run lock's heartbeat, delivery workers) wait on an
open write transaction, so it should not stay open long either.

On SQLite each transaction takes the store's write lock before its first batch runs. A
transaction the driver began for something else (the pull's snapshot keys, written to a
temporary table between batches) would otherwise read the store before writing it, and in WAL
mode a read snapshot cannot become a write once another connection (the run lock's heartbeat)
has committed since: the write then fails at once with "database is locked", without waiting
(reproduced at 100,000 reps, where the pull failed in two runs out of two).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection


class Commits:
    """Batches written on `conn`, committed once `rows` rows or `seconds` have gone by.

    `close()` commits what was written (also when the caller failed between batches), unless
    a write itself failed, which rolls back to the last commit. What `conn` wrote before a
    transaction's first batch (temporary rows) is committed when that batch begins.
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
            self._begin()  # first: a lock not taken (busy past the timeout) is taken next time
            self.since = time.monotonic()
        self.broken = True
        write()
        self.broken = False
        self.pending += rows
        if self.pending >= self.rows or time.monotonic() - self.since >= self.seconds:
            self.commit()

    def _begin(self) -> None:
        """SQLite: BEGIN IMMEDIATE, which waits (the connection's busy timeout) for the write
        lock instead of failing on it later. PostgreSQL locks rows, not the store: nothing."""
        if self.conn.dialect.name != "sqlite":
            return
        if self.conn.in_transaction():
            self.conn.commit()
        self.conn.exec_driver_sql("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.commit()
        self.pending, self.since = 0, None

    def close(self) -> None:
        if self.broken:
            self.conn.rollback()
        else:
            self.commit()
