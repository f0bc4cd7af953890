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

import threading
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


class Handover:
    """The store's write lock lent by a writer that commits in batches (Commits, the holder)
    to short transactions of another connection in another thread (the borrower), between
    the holder's batches, so that neither waits for the other's lock with nothing to do.

    The borrower `take`s before each transaction and `give_back`s after it; the holder asks
    `lent` before each write: at its first call after a `take` it commits its transaction
    and lets the borrower go, and while the borrower's transaction runs it holds its writes
    back (and goes on with its own work). After each of the borrower's transactions the
    holder writes once (what it held back) before the borrower may take the lock again. On
    SQLite a BEGIN IMMEDIATE waits for the lock otherwise, polling: the holder stood still
    for the whole of the borrower's transaction (or the borrower for the holder's, which
    commits every so many rows). `close`: the holder writes no more (its transaction ended):
    the borrower takes the lock without asking.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # "idle"; "asked" by the borrower; "lent" by the holder; "returned" by the borrower,
        # the holder's turn to write
        self._state = "idle"
        self._closed = False

    def take(self) -> None:
        """Borrower: wait until the holder lets go of the lock (commits its transaction)."""
        with self._cond:
            self._cond.wait_for(lambda: self._state == "idle" or self._closed)
            self._state = "asked"
            self._cond.wait_for(lambda: self._state == "lent" or self._closed)
            self._state = "lent"

    def give_back(self) -> None:
        """Borrower: its transaction ended (committed or not)."""
        with self._cond:
            self._state = "returned"

    def lent(self, commits: Commits) -> bool:
        """Holder, before a write: whether the borrower holds the lock (or is let go now:
        `commits` is committed first); the holder writes only when not."""
        if self._state == "idle":  # (the common case, without the condition's lock)
            return False
        with self._cond:
            if self._state == "returned":  # the holder's turn
                self._state = "idle"
                self._cond.notify_all()
                return False
            if self._state == "asked":
                commits.commit()
                self._state = "lent"
                self._cond.notify_all()
            return self._state == "lent"

    def close(self) -> None:
        """Holder: it writes no more; the borrower's transactions need not wait for it."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
