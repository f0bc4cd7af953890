"""The store's schema is created and migrated atomically: a process killed in the middle
leaves a store the next start opens, and two first starts at once do not collide."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from adoptloop.errors import ConfigError
from adoptloop.store import db, locks, schema
from adoptloop.store.db import open_store

# Creates a few tables of the schema, then dies as a SIGKILL would (no rollback, no cleanup).
_KILLED_MID_CREATION = textwrap.dedent(
    """
    import os, sys
    from adoptloop.store import db, schema

    def half_then_die(bind, **kw):
        for table in list(schema.metadata.sorted_tables)[:5]:
            table.create(bind)
        os._exit(9)

    schema.metadata.create_all = half_then_die
    db.open_store(sys.argv[1])
    """
)


def test_a_first_run_killed_while_creating_the_schema_leaves_a_store_the_next_run_opens(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_CREATION, url], check=False, capture_output=True
    )
    assert killed.returncode == 9, killed.stderr

    engine = open_store(url)  # before: "holds tables but no adoptloop schema version", exit 2
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        version = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
        ).scalar_one()
    engine.dispose()
    assert tables == set(schema.metadata.tables)
    assert version == str(schema.SCHEMA_VERSION)


def test_two_first_starts_at_once_both_open_the_one_store(store_url: str) -> None:
    """SQLite and PostgreSQL: before, the losers failed with "table already exists" or
    "holds tables but no adoptloop schema version"."""
    url = store_url
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_store(url).dispose()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_read_only_store_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    """A store the process may not write (opened read-only here, as file permissions would
    make it for another user) is exit 2 with what to do, not a temporary failure for ever."""
    empty = tmp_path / "fresh.db"
    empty.touch()
    with pytest.raises(ConfigError, match=r"fresh\.db.* is read-only") as raised:
        open_store(f"sqlite:///file:{empty}?mode=ro&uri=true")
    assert raised.value.exit_code == 2

    made = tmp_path / "store.db"
    open_store(f"sqlite:///{made}").dispose()
    open_store(f"sqlite:///file:{made}?mode=ro&uri=true").dispose()  # up to date: no write


def test_a_read_only_up_to_date_store_is_exit_2_at_its_first_write(tmp_path: Path) -> None:
    """Issue 15, point 4: an existing, up-to-date store that became read-only (its file's
    permissions changed) opens for reading (status, export), but the first write of a run or
    an erasure (taking the run lock) is a configuration error naming the store's path, exit 2,
    not "cannot be reached" exit 75 for ever."""
    made = tmp_path / "store.db"
    open_store(f"sqlite:///{made}").dispose()
    engine = open_store(f"sqlite:///file:{made}?mode=ro&uri=true")
    try:
        with (
            pytest.raises(ConfigError, match=r"store\.db.* is read-only") as raised,
            locks.hold(engine, locks.RUN, holder=locks.node_id("test"), lease_seconds=60),
        ):
            pass
        assert raised.value.exit_code == 2
    finally:
        engine.dispose()


def test_a_store_file_that_cannot_be_created_is_exit_2_naming_it(tmp_path: Path) -> None:
    """Issue 15, point 4: a new SQLite store whose file cannot be created (its folder is not
    writable; simulated here by opening a missing file read-only) is a configuration error
    naming the path, exit 2; retrying later cannot help, so it is not exit 75."""
    missing = tmp_path / "new.db"
    with pytest.raises(ConfigError, match=r"new\.db") as raised:
        open_store(f"sqlite:///file:{missing}?mode=ro&uri=true")
    assert raised.value.exit_code == 2


def test_a_read_only_postgresql_store_is_exit_2_at_its_first_write(postgres_url: str) -> None:
    """Issue 15, point 4, on PostgreSQL: a store reached through a read-only session (a standby,
    or a role with default_transaction_read_only) opens for reading, but its first write is a
    configuration error naming the store, exit 2 (SQLSTATE 25006), not exit 75 for ever."""
    open_store(postgres_url).dispose()
    read_only = make_url(postgres_url).update_query_dict(
        {"options": "-c default_transaction_read_only=on"}
    )
    engine = open_store(read_only.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:  # reading works
            assert conn.execute(select(schema.meta.c.key)).first() is not None
        with pytest.raises(ConfigError, match=r"is read-only") as raised, engine.begin() as conn:
            conn.execute(schema.meta.insert().values(key="probe", value="x"))
        assert raised.value.exit_code == 2
        assert "Traceback" not in str(raised.value)
    finally:
        engine.dispose()


class _LockedCursor:
    """A cursor whose first `locked` executes fail as SQLite fails a WAL switch racing another
    connection's first start ("database is locked" without waiting for the busy timeout)."""

    def __init__(self, locked: int, error: str = "database is locked") -> None:
        self.locked = locked
        self.error = error
        self.executed: list[str] = []

    def execute(self, sql: str) -> None:
        self.executed.append(sql)
        if self.locked:
            self.locked -= 1
            raise sqlite3.OperationalError(self.error)


def test_the_wal_switch_of_a_first_start_waits_out_a_lock_instead_of_failing() -> None:
    """The cause of a rare failure of the two-first-starts test: one of four connections
    opening a brand-new file got "database is locked" from `PRAGMA journal_mode=WAL` at once
    (SQLite did not call the busy handler), so the store "could not be reached"."""
    cursor = _LockedCursor(locked=3)
    db._wal(cursor)  # type: ignore[arg-type]
    assert cursor.executed == ["PRAGMA journal_mode=WAL"] * 4


def test_the_wal_switch_does_not_retry_other_errors() -> None:
    cursor = _LockedCursor(locked=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        db._wal(cursor)  # type: ignore[arg-type]
    assert cursor.executed == ["PRAGMA journal_mode=WAL"]
