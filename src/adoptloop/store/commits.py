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

import contextvars
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType

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


# batches a WriterThread may hold beyond the one it writes: the caller makes the next while one
# is written, and waits when the writer is this far behind (each batch is held in memory)
WRITER_DEPTH = 1


class WriterThread:
    """The batches of a `Commits`, written on a thread of their own in the order given, while
    the caller makes the next ones (adoption.compute: a pass's rows and sums are made in
    Python while SQLite writes the batch before, which releases the GIL while it works).

    `write` hands a batch over (waiting while WRITER_DEPTH are queued); a write that failed
    is raised by the next `write` or by `close`, and the batches after it are not written.
    `close` waits for every batch, then closes the Commits (its commit; after a failed write,
    its rollback to the last commit). Leaving the `with` block by an exception drops the
    batches not written yet and waits for the one being written: the connection is then
    the caller's again, its transaction open (to be rolled back). A write must take only
    what was handed to it: the caller goes on with its own objects meanwhile.
    """

    def __init__(self, commits: Commits, *, depth: int = WRITER_DEPTH) -> None:
        self.commits = commits
        # None: no more batches
        self._queue: queue.Queue[tuple[Callable[[], None], int] | None] = queue.Queue(maxsize=depth)
        self._failed: BaseException | None = None
        self.dropping = False  # the caller failed: the batches not written yet are not
        context = contextvars.copy_context()  # the log's bound fields (run, stage)
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="writer", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._failed is not None or self.dropping:
                continue  # taken off the queue, so that the caller never waits on it
            write, rows = item
            try:
                self.commits.write(write, rows)
            except BaseException as error:  # noqa: BLE001 (raised in the caller's thread)
                self._failed = error

    def write(self, write: Callable[[], None], rows: int) -> None:
        """Hand a batch of `rows` rows over (see Commits.write)."""
        self._raise()
        self._queue.put((write, rows))

    def close(self) -> None:
        """Every batch written, then committed (Commits.close); raises a failed write."""
        self._join()
        self.commits.close()
        self._raise()

    def _join(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._failed is not None:
            raise self._failed

    def __enter__(self) -> WriterThread:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None:  # the caller failed: what is queued is not written
            self.dropping = True
        self._join()
