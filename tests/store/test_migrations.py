"""Issue 15 point 4: the store's schema is migrated with Alembic (store/migrations/), atomically
on SQLite and PostgreSQL: a v1 store upgrades to the head keeping its data and ends up exactly
like schema.py, a kill mid-upgrade leaves a store the next start migrates, concurrent upgrades
serialize, and a store at a revision this adoptloop does not know is refused untouched."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, inspect, select, text

from adoptloop.errors import StoreVersionError
from adoptloop.store import migrations, schema
from adoptloop.store.db import create_store_engine, migrate, open_store
from tests.support import REPO

V1_STORE_SQL = REPO / "tests" / "fixtures" / "store" / "v1_store.sql"
HEAD = "0012_estimate_inputs"


def _build_v1(url: str) -> None:
    """A v1 store made by the baseline revision alone, with a few rows (SQLite or PostgreSQL)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrations.config(conn), "0001_baseline")
            conn.execute(
                text(
                    "INSERT INTO people (hr_id, valid_from, first_name, last_name, role, status, "
                    "digest) VALUES ('E100', '2024-01-01', 'Ada', 'Rep', 'rep', 'active', 'd1')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO ratings (source, record_id, item, capability_id, raw, scaled) "
                    "VALUES ('crm', 'R1', 'Opening_Rating__c', 'opening', 4, 0.75)"
                )
            )
    finally:
        engine.dispose()


def _differences(conn: Connection) -> list[object]:
    """What Alembic's autogenerate would write to make the store match schema.py."""
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, schema.metadata))


def _state(conn: Connection) -> tuple[str | None, str]:
    meta = dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
    return migrations.current_revision(conn), meta["schema_version"]


def test_the_head_revision_is_the_schema_version_of_schema_py(store_url: str) -> None:
    """The revisions form one line from 0001_baseline, and the head's number is SCHEMA_VERSION."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            scripts = migrations.scripts(conn)
            line = [script.revision for script in scripts.walk_revisions()]
            head = scripts.get_current_head()
    finally:
        engine.dispose()
    assert line[-1] == "0001_baseline"
    assert head == HEAD
    assert [migrations.number(r) for r in reversed(line)] == list(
        range(1, schema.SCHEMA_VERSION + 1)
    )


def test_a_new_store_is_created_from_schema_py_and_stamped_at_the_head(engine: Engine) -> None:
    with engine.connect() as conn:
        assert _state(conn) == (HEAD, str(schema.SCHEMA_VERSION))
        assert _differences(conn) == []


def test_a_v1_store_built_by_the_baseline_revision_upgrades_to_the_head_keeping_its_data(
    store_url: str,
) -> None:
    """And then holds exactly what schema.py declares: Alembic's compare_metadata finds no
    difference, so a revision that forgot a column, index or table fails here (SQLite and
    PostgreSQL)."""
    _build_v1(store_url)

    engine = create_store_engine(store_url)
    try:
        assert migrate(engine) == 1
        with engine.connect() as conn:
            assert _state(conn) == (HEAD, str(schema.SCHEMA_VERSION))
            assert _differences(conn) == []
            person = conn.execute(
                select(schema.people.c.hr_id, schema.people.c.snapshot_closed)
            ).one()
            rating = conn.execute(
                select(schema.ratings.c.raw, schema.ratings.c.scale_min, schema.ratings.c.scale_max)
            ).one()
            pending = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "pending:rating_scales")
            ).scalar_one()
    finally:
        engine.dispose()
    assert tuple(person) == ("E100", False)
    assert tuple(rating) == (4.0, None, None)  # filled from the capability map at the next run
    assert pending == "v2->v3"


def test_a_v1_store_written_before_alembic_is_stamped_then_upgraded_keeping_its_data(
    tmp_path: Path,
) -> None:
    """The fixture is a store as adoptloop's v1 wrote it (schema.py of commit 30523f3, only
    meta.schema_version = 1, no alembic_version)."""
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_STORE_SQL.read_text())
    db.close()

    engine = open_store(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert _state(conn) == (HEAD, str(schema.SCHEMA_VERSION))
            assert _differences(conn) == []
            assert conn.execute(select(schema.people.c.email)).scalar_one() == "ada@example.com"
            assert conn.execute(select(schema.cursors.c.value)).scalar_one() == (
                "2025-03-01T00:00:00Z"
            )
            assert conn.execute(select(schema.outbox.c.state)).scalar_one() == "pending"
    finally:
        engine.dispose()


# Upgrades a v1 store and dies, as a SIGKILL would (no rollback, no cleanup), just before the
# first statement that contains argv[2]: by then earlier revisions have run in the transaction.
_KILLED_MID_UPGRADE = textwrap.dedent(
    """
    import os, sys
    from sqlalchemy import event
    from adoptloop.store import db

    def die_before(conn, cursor, statement, *args):
        if sys.argv[2] in statement:
            os._exit(9)

    engine = db.create_store_engine(sys.argv[1])
    event.listen(engine, "before_cursor_execute", die_before)
    db.migrate(engine)
    """
)


@pytest.mark.parametrize(
    "killed_at",
    [
        "ALTER TABLE ratings ADD COLUMN scale_max",  # in 0003, after 0002 and half of 0003
        "CREATE TABLE source_reads",  # in 0004, after 0002 and 0003
        "ALTER TABLE people ADD COLUMN snapshot_closed",  # the last DDL
    ],
)
def test_an_upgrade_killed_midway_leaves_the_v1_store_the_next_start_upgrades(
    store_url: str, killed_at: str
) -> None:
    _build_v1(store_url)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_UPGRADE, store_url, killed_at],
        check=False,
        capture_output=True,
        cwd=REPO,
    )
    assert killed.returncode == 9, killed.stderr

    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:  # nothing of the killed upgrade was kept
            assert _state(conn) == ("0001_baseline", "1")
            assert not inspect(conn).has_table("adoption_dirty")
        assert migrate(engine) == 1
        with engine.connect() as conn:
            assert _state(conn) == (HEAD, str(schema.SCHEMA_VERSION))
            assert _differences(conn) == []
            assert conn.execute(select(schema.people.c.hr_id)).scalar_one() == "E100"
    finally:
        engine.dispose()


def test_concurrent_starts_on_a_v1_store_upgrade_it_once(store_url: str) -> None:
    """Four starts at once: one upgrades (it found v1), the others wait for its transaction and
    find the head (SQLite and PostgreSQL)."""
    _build_v1(store_url)
    found: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        engine = create_store_engine(store_url)
        try:
            found.append(migrate(engine))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(found) == [1] + [schema.SCHEMA_VERSION] * 3


def test_a_store_at_a_revision_this_adoptloop_does_not_know_is_refused_untouched(
    engine: Engine, store_url: str
) -> None:
    with engine.begin() as conn:
        conn.execute(schema.alembic_version.update().values(version_num="0005_from_the_future"))
        tables = set(inspect(conn).get_table_names())

    with pytest.raises(StoreVersionError) as refused:
        open_store(store_url)

    assert "0005_from_the_future" in str(refused.value)
    assert f"up to {HEAD}" in str(refused.value)
    assert refused.value.exit_code == 2
    with engine.connect() as conn:
        assert _state(conn) == ("0005_from_the_future", str(schema.SCHEMA_VERSION))
        assert set(inspect(conn).get_table_names()) == tables


def test_a_store_written_before_alembic_at_a_version_no_adoptloop_wrote_is_refused(
    engine: Engine, store_url: str
) -> None:
    with engine.begin() as conn:
        schema.alembic_version.drop(conn)
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="0")
        )

    with pytest.raises(StoreVersionError, match="schema version 0, which no adoptloop wrote"):
        open_store(store_url)

    with engine.connect() as conn:
        assert not inspect(conn).has_table("alembic_version")
