"""Locks in the store, so that "one at a time" holds across processes and machines.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection kept open
  while the lock is held. When the holder dies its connection ends and the lock is free at
  once, which is how a standby `serve` takes over.
- SQLite (one machine): a lease row in the `locks` table, renewed by a heartbeat thread while
  held. A holder that stopped renewing loses the lock when the lease runs out, or at once when
  it was a process on this host that no longer exists.

Two names are used: `scheduler` (which `serve` process schedules runs) and `run` (one pipeline
run at a time, whether started by `serve`, `adoptloop run` or `retention purge`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from adoptloop.errors import AdoptloopError
from adoptloop.store import schema
from adoptloop.store.db import StoreUnavailable, unavailable_on
from adoptloop.store.schema import stamp

log = structlog.get_logger(__name__)

SCHEDULER = "scheduler"
RUN = "run"

EX_TEMPFAIL = 75  # sysexits.h: "try again later"; what cron and Kubernetes see for a busy store


class RunInProgress(AdoptloopError):
    """Another process holds the run lock; nothing was done."""

    exit_code = EX_TEMPFAIL


def node_id(role: str = "") -> str:
    """host:pid:random, unique per lock holder; the pid lets SQLite spot a dead local holder."""
    suffix = f":{role}" if role else ""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}{suffix}"


class StoreLock(Protocol):
    """A lock in the store. Each method raises StoreUnavailable when the database cannot be
    reached (a transient trouble: the lock may still be ours next time)."""

    name: str
    holder: str

    def try_acquire(self) -> bool:
        """Take the lock if it is free (or already ours); never waits."""

    def renew(self) -> bool:
        """Confirm (and extend) the lock; False when it was lost."""

    def release(self) -> None:
        """Give the lock up (idempotent)."""


def store_lock(engine: Engine, name: str, *, holder: str, lease_seconds: float) -> StoreLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, name, holder=holder)
    return LeaseLock(engine, name, holder=holder, lease_seconds=lease_seconds)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key per lock name (advisory locks are per database)."""
    digest = hashlib.blake2b(f"adoptloop:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """PostgreSQL session-level advisory lock, held on a dedicated connection."""

    def __init__(self, engine: Engine, name: str, *, holder: str) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.key = advisory_key(name)
        self._conn: Connection | None = None

    @unavailable_on(DBAPIError)
    def try_acquire(self) -> bool:
        if self._conn is not None:
            return self.renew()
        conn = self.engine.connect()
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
            conn.commit()  # a session-level lock outlives the transaction
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def renew(self) -> bool:
        """The lock holds as long as its connection does: check the connection is alive."""
        if self._conn is None:
            return False
        # Only the end of the session (or pg_terminate_backend, which ends it) frees the lock.
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except DBAPIError:
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.commit()
        except DBAPIError:
            pass  # the connection is gone, and the lock with it
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.invalidate()  # never hand a connection that may hold the lock to the pool
                conn.close()


class LeaseLock:
    """A lease row in `locks`; every change is one conditional statement, so it is atomic."""

    def __init__(self, engine: Engine, name: str, *, holder: str, lease_seconds: float) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.lease = timedelta(seconds=lease_seconds)
        self._held = False

    @unavailable_on(DBAPIError)
    def try_acquire(self) -> bool:
        t = schema.locks
        now = datetime.now(UTC)
        values = {"holder": self.holder, "lease_until": stamp(now + self.lease)}
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(t)
                .where(
                    (t.c.name == self.name)
                    & ((t.c.holder == self.holder) | (t.c.lease_until < stamp(now)))
                )
                .values(acquired_at=stamp(now), **values)
            ).rowcount
        if not taken:
            taken = self._take_from_dead_local_holder(now, values) or self._insert(now, values)
        self._held = bool(taken)
        return self._held

    def _insert(self, now: datetime, values: dict[str, str]) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    schema.locks.insert().values(name=self.name, acquired_at=stamp(now), **values)
                )
        except IntegrityError:
            return False  # someone holds it
        return True

    def _take_from_dead_local_holder(self, now: datetime, values: dict[str, str]) -> bool:
        t = schema.locks
        with self.engine.connect() as conn:
            current = conn.execute(select(t.c.holder).where(t.c.name == self.name)).scalar()
        if current is None or not is_dead_local_process(current):
            return False
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(t)
                .where((t.c.name == self.name) & (t.c.holder == current))
                .values(acquired_at=stamp(now), **values)
            ).rowcount
        if taken:
            log.info("took over a lock from a process that no longer runs", lock=self.name)
        return bool(taken)

    @unavailable_on(DBAPIError)
    def renew(self) -> bool:
        if not self._held:
            return False
        t = schema.locks
        with self.engine.begin() as conn:
            kept = conn.execute(
                update(t)
                .where((t.c.name == self.name) & (t.c.holder == self.holder))
                .values(lease_until=stamp(datetime.now(UTC) + self.lease))
            ).rowcount
        self._held = bool(kept)
        return self._held

    @unavailable_on(DBAPIError)
    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        t = schema.locks
        with self.engine.begin() as conn:
            conn.execute(t.delete().where((t.c.name == self.name) & (t.c.holder == self.holder)))


def is_dead_local_process(holder: str) -> bool:
    """True when `holder` (host:pid:...) names a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this process: another holder object of ours, alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, someone else's
    return False


class KeptLock:
    """A lock held in the background: renewed every `interval` seconds until released.

    `lost` is set when a renewal fails (the lease ran out, the connection died); whoever works
    under the lock checks it at its checkpoints and stops.
    """

    def __init__(self, lock: StoreLock, *, interval: float) -> None:
        self.lock = lock
        self.interval = interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lock-{self.lock.name}", daemon=True
        )
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                kept = self.lock.renew()
            except StoreUnavailable as exc:
                log.warning("could not renew a lock", lock=self.lock.name, error=str(exc))
                continue  # a transient error: the lease may still be ours next time
            if not kept:
                self.lost.set()
                log.error("lost a lock", lock=self.lock.name)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.lock.release()


@contextlib.contextmanager
def hold(engine: Engine, name: str, *, holder: str, lease_seconds: float) -> Iterator[KeptLock]:
    """Hold lock `name` for the block, or raise RunInProgress when another process holds it."""
    lock = store_lock(engine, name, holder=holder, lease_seconds=lease_seconds)
    if not lock.try_acquire():
        raise RunInProgress(
            f"another adoptloop process holds the {name!r} lock (see `adoptloop status`); "
            "nothing was done, try again later"
        )
    kept = KeptLock(lock, interval=max(0.5, min(lease_seconds / 3, 30.0)))
    kept.start()
    try:
        yield kept
    finally:
        kept.stop()
