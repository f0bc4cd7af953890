"""A write transaction shared by batches: committed after `rows` rows or `seconds`, by close(),
and rolled back to the last commit when a write itself failed.

What another connection sees is what was committed (SQLite in WAL mode lets it read while the
writer's transaction is open). The clock is the test's, so no test waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.exc import OperationalError

from adoptloop.store import commits as commits_module
from adoptloop.store import schema
from adoptloop.store.commits import Commits, Handover
from adoptloop.store.db import open_store


class Clock:
    """time.monotonic, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(commits_module, "time", fake)
    return fake


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        yield conn


def batch(conn: Connection, *names: str) -> Callable[[], None]:
    """A write of one cursor row per name."""

    def write() -> None:
        conn.execute(
            schema.cursors.insert(),
            [{"source": "s", "stream": name, "value": "v", "updated_at": "t"} for name in names],
        )

    return write


def committed(engine: Engine) -> list[str]:
    """The rows another connection sees."""
    t = schema.cursors
    with engine.connect() as other:
        return list(other.execute(select(t.c.stream).order_by(t.c.stream)).scalars())


def test_batches_are_committed_once_rows_reach_the_limit(
    engine: Engine, conn: Connection, clock: Clock
) -> None:
    commits = Commits(conn, rows=3, seconds=60)

    commits.write(batch(conn, "a", "b"), 2)
    assert committed(engine) == []

    commits.write(batch(conn, "c"), 1)
    assert committed(engine) == ["a", "b", "c"]

    commits.write(batch(conn, "d"), 1)  # the count starts again after a commit
    assert committed(engine) == ["a", "b", "c"]
    commits.close()


def test_batches_are_committed_once_seconds_have_gone_by_since_the_first(
    engine: Engine, conn: Connection, clock: Clock
) -> None:
    commits = Commits(conn, rows=1000, seconds=30)

    commits.write(batch(conn, "a"), 1)
    clock.now += 29
    commits.write(batch(conn, "b"), 1)
    assert committed(engine) == []

    clock.now += 1  # 30 s since the first uncommitted batch
    commits.write(batch(conn, "c"), 1)
    assert committed(engine) == ["a", "b", "c"]

    clock.now += 29  # the clock starts again with the next batch after a commit
    commits.write(batch(conn, "d"), 1)
    clock.now += 29
    commits.write(batch(conn, "e"), 1)
    assert committed(engine) == ["a", "b", "c"]
    commits.close()


def test_close_commits_what_was_written(engine: Engine, conn: Connection, clock: Clock) -> None:
    commits = Commits(conn, rows=1000, seconds=60)
    commits.write(batch(conn, "a", "b"), 2)
    assert committed(engine) == []

    commits.close()

    assert committed(engine) == ["a", "b"]


def test_a_write_that_raises_rolls_back_to_the_last_commit(
    engine: Engine, conn: Connection, clock: Clock
) -> None:
    commits = Commits(conn, rows=2, seconds=60)
    commits.write(batch(conn, "a", "b"), 2)  # committed
    commits.write(batch(conn, "c"), 1)  # written, not committed yet

    def half_written() -> None:
        batch(conn, "d")()
        raise RuntimeError("the database refused the second half")

    with pytest.raises(RuntimeError, match="refused"):
        commits.write(half_written, 2)
    commits.close()

    assert committed(engine) == ["a", "b"]
    t = schema.cursors
    assert conn.execute(select(func.count()).select_from(t)).scalar() == 2  # nothing pending


def test_a_batch_after_temporary_writes_keeps_the_store_when_another_connection_commits(
    engine: Engine, conn: Connection, tmp_path: Path
) -> None:
    """Issue 17 (the 100k-rep growth point): the pull writes its snapshot keys to a temporary
    table between batches, so the driver has a transaction open when the next batch reads the
    store (identities) and then writes it. Another connection (the run lock's heartbeat)
    committing between that read and the write made the write fail at once with "database is
    locked". Commits now takes the write lock when the batch begins: the other writer waits
    for the commit instead (here it gives up after 0.1 s), and the batch's write succeeds."""
    conn.exec_driver_sql("CREATE TEMPORARY TABLE named (key TEXT)")
    conn.commit()
    conn.exec_driver_sql("INSERT INTO named VALUES ('k1')")  # the driver begins a transaction
    heartbeat = create_engine(f"sqlite:///{tmp_path / 'store.db'}", connect_args={"timeout": 0.1})
    waited = []

    def read_then_write() -> None:
        conn.execute(select(func.count()).select_from(schema.identities)).scalar_one()
        try:
            with heartbeat.begin() as other:
                other.execute(
                    schema.cursors.insert(),
                    {"source": "lock", "stream": "beat", "value": "v", "updated_at": "t"},
                )
        except OperationalError:
            waited.append(True)  # the batch holds the write lock: the heartbeat waits its turn
        batch(conn, "after-the-read")()

    commits = Commits(conn, rows=100, seconds=60)
    commits.write(read_then_write, 1)
    commits.close()
    assert waited == [True]
    with engine.connect() as reader:
        assert reader.execute(select(schema.cursors.c.stream)).scalars().all() == ["after-the-read"]
    with heartbeat.begin() as other:  # between transactions the other writer gets in
        other.execute(
            schema.cursors.insert(),
            {"source": "lock", "stream": "beat", "value": "v", "updated_at": "t"},
        )
    heartbeat.dispose()


def test_a_handover_lends_the_write_lock_between_batches_and_the_holder_holds_back(
    engine: Engine, conn: Connection, tmp_path: Path, clock: Clock
) -> None:
    """Issue 17 (the first adoption pass): the states pass lends the store's write lock to the
    kept visits' copy between its batches (store.commits.Handover). Asked, the holder commits
    what it wrote and answers that the lock is lent while the borrower's transaction runs
    (it holds its writes back meanwhile); the borrower's BEGIN IMMEDIATE does not wait (here
    it would give up after 0.05 s); given back, the holder writes again; once the holder is
    closed, the borrower takes the lock without asking."""
    handover = Handover()
    commits = Commits(conn, rows=1000, seconds=60)
    commits.write(batch(conn, "a"), 1)
    assert not handover.lent(commits)  # nobody asked
    borrower = create_engine(f"sqlite:///{tmp_path / 'store.db'}", connect_args={"timeout": 0.05})
    inside, done = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def borrow(name: str) -> None:
        handover.take()
        try:
            with borrower.connect() as other:
                other.exec_driver_sql("BEGIN IMMEDIATE")
                batch(other, name)()
                inside.set()
                done.wait(5)
                other.commit()
        except BaseException as error:  # noqa: BLE001 (asserted below)
            failed.append(error)
        finally:
            handover.give_back()

    thread = threading.Thread(target=borrow, args=("lent",))
    thread.start()
    for _ in range(500):  # until the borrower asks
        if handover.lent(commits):
            break
        threading.Event().wait(0.01)
    assert committed(engine) == ["a"]  # the holder's transaction, committed when asked
    assert inside.wait(5)
    assert handover.lent(commits)  # the borrower's transaction runs: the holder holds back
    done.set()
    thread.join(5)
    assert failed == []
    assert not handover.lent(commits)
    commits.write(batch(conn, "b"), 1)
    commits.close()
    assert committed(engine) == ["a", "b", "lent"]

    handover.close()  # the holder writes no more: nobody needs to let go
    inside.clear()
    done.clear()
    thread = threading.Thread(target=borrow, args=("after",))
    thread.start()
    assert inside.wait(5)
    done.set()
    thread.join(5)
    assert failed == []
    assert committed(engine) == ["a", "after", "b", "lent"]
    borrower.dispose()
