"""Opening the store: schema creation, version checks, driver and connection errors."""

from __future__ import annotations

import contextlib
import ctypes
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect, select, text

from adoptloop.errors import ConfigError, StoreVersionError
from adoptloop.pipeline.pull import rescale_stored_ratings
from adoptloop.pipeline.suppression import Suppression
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import db, migrations, outbox, schema
from adoptloop.store.db import (
    SQLITE_HEAP_LIMIT,
    StoreUnavailable,
    create_store_engine,
    migrate,
    open_store,
    shrink_idle,
    small_heap,
    streaming,
)
from adoptloop.xapi.ids import suppression_digest
from tests.support import DEMO_CONFIG

DEMO_CAPABILITIES = DEMO_CONFIG.parent / "demo" / "capabilities.yaml"


def test_a_fresh_store_gets_every_table_at_the_current_version(engine: Engine) -> None:
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        version = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
        ).scalar_one()

    assert set(schema.metadata.tables) <= tables
    assert int(version) == schema.SCHEMA_VERSION


def test_opening_an_existing_store_again_changes_nothing(engine: Engine, store_url: str) -> None:
    again = create_store_engine(store_url)
    try:
        assert migrate(again) == schema.SCHEMA_VERSION
    finally:
        again.dispose()


def _alembic_modules_after_opening(store_url: str) -> list[str]:
    """The Alembic modules a fresh interpreter holds after opening the store at `store_url`."""
    script = (
        "import json, sys\n"
        "from adoptloop.store.db import open_store\n"
        f"open_store({store_url!r}).dispose()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic')))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    modules: list[str] = json.loads(found)
    return modules


def test_an_up_to_date_store_opens_without_importing_alembic(
    engine: Engine, store_url: str
) -> None:
    """Issue 17, point 2 (a run's fixed costs): every run opens the store; an up-to-date one is
    recognised from its two version rows, so the run never imports Alembic (a fifth of a
    second); a store that needs a migration still gets one (the tests below)."""
    assert _alembic_modules_after_opening(store_url) == []


def test_a_new_store_is_created_and_stamped_at_the_head_without_importing_alembic(
    store_url: str,
) -> None:
    """Issue 17 (the run's peak memory): the first run opens an empty store; creating it and
    stamping the head revision imports no Alembic module, which would stay in the run's
    memory to its end (the store it makes is the one Alembic stamps:
    tests/store/test_migrations.py)."""
    assert _alembic_modules_after_opening(store_url) == []
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:  # Alembic reads it as at its head
            head = migrations.scripts(conn).get_current_head()
            assert migrations.current_revision(conn) == head
        assert migrate(engine) == schema.SCHEMA_VERSION  # up to date: nothing to do
    finally:
        engine.dispose()


def test_a_store_at_an_unknown_revision_of_the_current_version_is_refused(
    engine: Engine, store_url: str
) -> None:
    """The check without Alembic still knows our revisions: one it has no file for is not
    taken for up to date (it goes to the migration path, which refuses it)."""
    with engine.begin() as conn:
        conn.execute(
            schema.alembic_version.update().values(
                version_num=f"{schema.SCHEMA_VERSION:04d}_from_a_fork"
            )
        )

    with pytest.raises(StoreVersionError, match="from_a_fork"):
        open_store(store_url)


def test_a_store_from_a_newer_adoptloop_is_refused(engine: Engine, store_url: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            schema.meta.update()
            .where(schema.meta.c.key == "schema_version")
            .values(value=str(schema.SCHEMA_VERSION + 1))
        )

    with pytest.raises(StoreVersionError, match="upgrade adoptloop"):
        open_store(store_url)


def test_a_version_1_store_is_migrated_keeping_its_data(engine: Engine, store_url: str) -> None:
    """v1 -> v2 adds adoption_dirty; the store's rows stay (SQLite and PostgreSQL)."""
    with engine.begin() as conn:
        schema.adoption_dirty.drop(conn)
        _drop_rating_scales(conn)
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="1")
        )
        conn.execute(schema.meta.insert().values(key="kept", value="yes"))

    again = create_store_engine(store_url)
    try:
        assert migrate(again) == 1
        with again.connect() as conn:
            assert inspect(conn).has_table("adoption_dirty")
            meta = dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
        assert meta["schema_version"] == str(schema.SCHEMA_VERSION)
        assert meta["kept"] == "yes"
    finally:
        again.dispose()


def _drop_rating_scales(conn: Connection) -> None:
    """Make the store a v2 one (before ratings kept their scale and sources their reads)."""
    _make_v3(conn)
    for column in ("scale_min", "scale_max"):
        conn.execute(text(f"ALTER TABLE ratings DROP COLUMN {column}"))


_V6_EMITTED = (
    "CREATE TABLE emitted (key VARCHAR(512) NOT NULL, record_ref VARCHAR(512) NOT NULL, "
    "hr_id VARCHAR(64) NOT NULL, statement_id VARCHAR(36) NOT NULL, revision INTEGER NOT NULL, "
    "digest VARCHAR(32) NOT NULL, voided BOOLEAN NOT NULL, PRIMARY KEY (key))"
)


def _undo_v7(conn: Connection) -> None:
    """Undo v12 (the estimates' kept inputs), v11 (adoption_states' index by person), v10, v9
    and v8 (the kept metrics' tables) and v7: `emitted` keyed by its text key with record_ref
    and hr_id indexes, and the outbox's hr_id index (the tables as v1 to v6 made them)."""
    conn.execute(text("DROP INDEX ix_adoption_states_source_hr_id"))
    kept = ("metric_reps", "metric_people", "metric_cells", "metric_km", "metric_dirty")
    estimates = ("estimate_ratings", "estimate_dirty")
    for table in (*kept, "metric_ratings", "metric_visits", *estimates):
        schema.metadata.tables[table].drop(conn)
    conn.execute(text("DROP TABLE emitted"))
    conn.execute(text(_V6_EMITTED))
    conn.execute(text("CREATE INDEX ix_emitted_hr_id ON emitted (hr_id)"))
    conn.execute(text("CREATE INDEX ix_emitted_record_ref ON emitted (record_ref)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_outbox_hr_id ON outbox (hr_id)"))


def _make_v5(conn: Connection) -> None:
    """Undo v7 and v6: no team columns; and make it a store written by adoptloop before Alembic
    (meta.schema_version, no alembic_version table)."""
    _undo_v7(conn)
    schema.alembic_version.drop(conn)
    for table in ("people", "adoption_states", "adoption_scratch"):
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN team"))


def _make_v4(conn: Connection) -> None:
    """Undo v7, v6 and v5: no team columns, no suppression list."""
    _make_v5(conn)
    schema.suppressed.drop(conn)


def _make_v3(conn: Connection) -> None:
    """Undo v7 to v4: no source_reads table, no people.snapshot_closed column."""
    _make_v4(conn)
    schema.source_reads.drop(conn)
    conn.execute(text("ALTER TABLE people DROP COLUMN snapshot_closed"))


def test_a_version_3_store_gets_the_source_reads_table(engine: Engine, store_url: str) -> None:
    with engine.begin() as conn:
        _make_v3(conn)
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="3")
        )
    again = create_store_engine(store_url)
    try:
        assert migrate(again) == 3
        with again.connect() as conn:
            assert inspect(conn).has_table("source_reads")
            people = {c["name"] for c in inspect(conn).get_columns("people")}
            assert "snapshot_closed" in people
            version = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
            ).scalar_one()
        assert version == str(schema.SCHEMA_VERSION)
    finally:
        again.dispose()


def test_a_version_4_store_gets_the_suppression_list_holding_its_earlier_erasures(
    engine: Engine, store_url: str
) -> None:
    """Issue 15 point 2: v4 -> v5 adds the suppression list; the HR id digest of an erasure made
    before it (the audit entry's subject digest) is on it, so that person stays out."""
    key = b"k" * 16
    subject = suppression_digest(key, "hr_id", "E42")
    with engine.begin() as conn:
        _make_v4(conn)
        conn.execute(
            schema.erasures.insert().values(
                erasure_id="e-1",
                erased_at="2026-01-01T00:00:00Z",
                subject_digest=subject,
                counts="{}",
            )
        )
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="4")
        )
    again = create_store_engine(store_url)
    try:
        assert migrate(again) == 4
        with again.connect() as conn:
            assert "E42" in Suppression.load(conn, key)
            assert "E43" not in Suppression.load(conn, key)
    finally:
        again.dispose()


def test_a_version_5_store_gets_the_team_columns_keeping_its_people(
    engine: Engine, store_url: str
) -> None:
    """Issue 16, point 2 (inputs): v6 adds people.team (and the team at window close to the
    adoption rows); a v5 store's people stay, with no team (the manager's team, as before)."""
    with engine.begin() as conn:
        _make_v5(conn)
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="5")
        )
        conn.execute(
            text(
                "INSERT INTO people (hr_id, valid_from, first_name, last_name, role, status, "
                "digest, snapshot_closed) VALUES ('E1', '2026-01-01', 'A', 'B', 'rep', "
                "'active', 'd', false)"
            )
        )
    again = create_store_engine(store_url)
    try:
        assert migrate(again) == 5
        with again.connect() as conn:
            for table in ("people", "adoption_states", "adoption_scratch"):
                assert "team" in {c["name"] for c in inspect(conn).get_columns(table)}
            people = conn.execute(select(schema.people.c.hr_id, schema.people.c.team)).all()
        assert [tuple(p) for p in people] == [("E1", None)]
    finally:
        again.dispose()


def test_a_version_6_store_keeps_its_emitted_rows_in_one_compact_b_tree(
    engine: Engine, store_url: str
) -> None:
    """Issue 17 point 2 (translate: keep the hot indexes small): v7 keys `emitted` by
    (record_ref, key) with no other index (WITHOUT ROWID on SQLite) and drops the outbox's hr_id
    index; a v6 store's emitted rows are kept as they were, and the translate stage's lookups
    (a record's keys) still find them."""
    row = {
        "key": "observation/crm/R1/opening",
        "record_ref": "observations/crm/R1",
        "hr_id": "E1",
        "statement_id": "00000000-0000-5000-8000-000000000001",
        "revision": 2,
        "digest": "d" * 32,
        "voided": False,
    }
    with engine.begin() as conn:
        _undo_v7(conn)
        conn.execute(text("UPDATE alembic_version SET version_num = '0006_people_team'"))
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="6")
        )
        conn.execute(schema.emitted.insert().values(**row))
    again = create_store_engine(store_url)
    try:
        assert migrate(again) == 6
        with again.connect() as conn:
            found = inspect(conn)
            assert found.get_pk_constraint("emitted")["constrained_columns"] == [
                "record_ref",
                "key",
            ]
            assert found.get_indexes("emitted") == []
            assert "hr_id" not in {
                c for i in found.get_indexes("outbox") for c in i["column_names"]
            }
            if conn.dialect.name == "sqlite":
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'emitted'")
                ).scalar_one()
                assert "WITHOUT ROWID" in sql
            kept = outbox.emitted_for(conn, ["observations/crm/R1"])
        assert {k: vars_of(v) for k, v in kept.items()} == {row["key"]: row}
    finally:
        again.dispose()


def vars_of(emitted: outbox.EmittedRow) -> dict[str, object]:
    return {name: getattr(emitted, name) for name in emitted.__slots__}


def test_a_version_2_store_is_migrated_and_its_ratings_and_parked_records_get_their_scale(
    engine: Engine, store_url: str
) -> None:
    """v2 -> v3: ratings keep their scale; an upgraded store's first run fills in the scales of
    the ratings (and parked observations) stored before, from the capability map."""
    legacy_parked = {
        "$": "CoachingObservation",
        "ratings": [
            {"$": "Rating", "item": "Opening_Rating__c", "raw": 4.0},
            {"$": "Rating", "item": "Gone_Rating__c", "raw": 2.0},
        ],
    }
    with engine.begin() as conn:
        _drop_rating_scales(conn)
        conn.execute(
            schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="2")
        )
        conn.execute(
            text(
                "INSERT INTO ratings (source, record_id, item, capability_id, raw, scaled) "
                "VALUES ('crm', 'R1', 'Opening_Rating__c', 'opening', 4, 0.75), "
                "('crm', 'R1', 'Gone_Rating__c', 'gone', 2, 0.25)"
            )
        )
        conn.execute(
            schema.parked.insert().values(
                source="crm",
                stream="coaching_reports",
                record_key="R2",
                system="crm",
                external_id="005X",
                payload=json.dumps(legacy_parked, separators=(",", ":")),
                parked_run="run-1",
            )
        )

    again = create_store_engine(store_url)
    try:
        assert migrate(again) == 2
        capabilities = load_capability_map(DEMO_CAPABILITIES)
        rescale_stored_ratings(again, capabilities)
        rescale_stored_ratings(again, capabilities)  # once: nothing is pending any more
        with again.connect() as conn:
            ratings = conn.execute(
                select(
                    schema.ratings.c.item, schema.ratings.c.scale_min, schema.ratings.c.scale_max
                ).order_by(schema.ratings.c.item)
            ).all()
            payload = json.loads(conn.execute(select(schema.parked.c.payload)).scalar_one())
    finally:
        again.dispose()

    assert [tuple(r) for r in ratings] == [
        ("Gone_Rating__c", None, None),  # no longer in the map: not translatable, as before v3
        ("Opening_Rating__c", 1.0, 5.0),
    ]
    assert payload["ratings"] == [
        {
            "$": "Rating",
            "item": "Opening_Rating__c",
            "capability_id": "opening",
            "raw": 4.0,
            "scale_min": 1.0,
            "scale_max": 5.0,
            "scaled": 0.75,
        }
    ]


def test_an_unreachable_postgresql_store_is_a_temporary_failure_without_the_password() -> None:
    url = "postgresql+psycopg://adoptloop:s3cret-pw@127.0.0.1:1/adoptloop"

    with pytest.raises(StoreUnavailable) as caught:
        open_store(url)

    assert caught.value.exit_code == 75
    assert "s3cret-pw" not in str(caught.value)
    assert "cannot be reached" in str(caught.value)


def test_a_missing_database_driver_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="driver is not installed"):
        create_store_engine("postgresql+nosuchdriver://db.internal/adoptloop")


def test_a_sqlite_store_keeps_one_connection_and_its_page_cache_between_uses(
    tmp_path: Path,
) -> None:
    """Issue 17.2 (flat memory): every pooled SQLite connection keeps a page cache of up to
    24 MB that fills as the store grows; connections that were open at the same time (the
    states stage's reader and writer, the lock heartbeat) must not all stay pooled."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.connect() as reader, engine.connect() as writer, engine.connect() as beat:
            for conn in (reader, writer, beat):
                conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        assert engine.pool.checkedin() == 1  # type: ignore[attr-defined]
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -db.SQLITE_CACHE_KIB
    finally:
        engine.dispose()


def test_a_streaming_read_uses_a_small_page_cache_and_leaves_the_pooled_one_alone(
    tmp_path: Path,
) -> None:
    """Issue 17.2 (flat memory): the states stage streams every rating on a second connection;
    its pages are read once, so that connection gets SQLite's default 2 MB cache, not 24 MB."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with streaming(engine) as reader, engine.connect() as writer:
            assert reader.exec_driver_sql("PRAGMA cache_size").scalar_one() == -2048
            assert writer.exec_driver_sql("PRAGMA cache_size").scalar_one() == -db.SQLITE_CACHE_KIB
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -db.SQLITE_CACHE_KIB
    finally:
        engine.dispose()


def test_a_writer_beside_a_long_read_leaves_the_wal_unchecked_then_checkpoints_as_before(
    tmp_path: Path,
) -> None:
    """Issue 17 (the first adoption pass): its writer commits while the inputs stream from a
    read transaction open the whole pass, so no frame it writes can be copied back; within
    no_checkpoints its commits do not try (every attempt walked the whole WAL): the WAL keeps
    every transaction's frames, and after the block the connection's threshold is back and
    its next commit checkpoints them, as a commit without the block does."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")

    def commits(conn: Connection, first: int) -> None:
        for k in range(first, first + 5):
            conn.execute(
                schema.cursors.insert(),
                [
                    {"source": "s", "stream": f"{k}-{i}", "value": "v" * 500, "updated_at": "t"}
                    for i in range(50)
                ],
            )
            conn.commit()

    def frames(conn: Connection) -> int:
        """Frames in the WAL (a passive checkpoint copies them back now)."""
        return int(conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1])

    try:
        with engine.connect() as writer, engine.connect() as other:
            writer.exec_driver_sql("PRAGMA wal_autocheckpoint=1")  # after every commit
            commits(writer, 0)
            checkpointed = frames(other)  # only the last transaction's frames were left
            with db.no_checkpoints(writer):
                assert writer.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
                commits(writer, 10)
                kept = frames(other)
            assert writer.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1
            commits(writer, 20)
            after = frames(other)
            assert kept > 3 * checkpointed, (kept, checkpointed)
            assert after <= 2 * checkpointed, (after, checkpointed)
    finally:
        engine.dispose()


def test_a_checkpoint_beside_a_block_copies_the_wal_back_by_its_end(tmp_path: Path) -> None:
    """Issue 17 (the first adoption pass): the pages a pass wrote into the WAL while its read
    was open are copied back into the store by a checkpoint beside what is left of it (the
    kept sums), not by its next commit: by the end of the block the store's file holds them,
    and what the block wrote beside the checkpoint too, so that the next write starts the WAL
    again from its beginning (a WAL left at its length made later reads slower)."""
    path = tmp_path / "store.db"
    engine = open_store(f"sqlite:///{path}")

    def rows(conn: Connection, first: int, n: int) -> None:
        conn.execute(
            schema.cursors.insert(),
            [
                {"source": "s", "stream": str(i), "value": "v" * 500, "updated_at": "t"}
                for i in range(first, first + n)
            ],
        )
        conn.commit()

    try:
        with engine.connect() as writer, engine.connect() as other:
            with db.no_checkpoints(writer):
                rows(writer, 0, 2000)
                before = path.stat().st_size
                with db.checkpoint_beside(writer):
                    time.sleep(0.3)  # the checkpoint beside is done: these rows come after it
                    rows(writer, 2000, 1000)
                assert path.stat().st_size > before + 500 * 3000
                rows(writer, 3000, 1)  # the WAL begins again
                _busy, frames, _copied = other.exec_driver_sql(
                    "PRAGMA wal_checkpoint(PASSIVE)"
                ).one()
            assert frames < 10
            assert len(writer.execute(select(schema.cursors.c.stream)).scalars().all()) == 3001
    finally:
        engine.dispose()


def _sqlite_memory_used() -> int:
    """Bytes SQLite holds in this process (sqlite3_memory_used of the library the sqlite3
    module is built on); skips where that library's symbols cannot be reached."""
    import _sqlite3  # the extension module: its handle finds the library it links or embeds

    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError):
        pytest.skip("sqlite3_memory_used is not reachable from this Python")
    used.restype = ctypes.c_int64
    return int(used())


def test_a_sqlite_store_caps_the_memory_of_all_its_connections_together(
    tmp_path: Path,
) -> None:
    """Issue 17.2 (flat memory): each connection's page cache may hold 24 MB and fills as
    the store grows, so a stage with several connections open grew by up to 24 MB for each;
    the process's SQLite memory is capped as a whole (PRAGMA soft_heap_limit), whatever the
    number of connections."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar_one() == (
                SQLITE_HEAP_LIMIT
            )
    finally:
        engine.dispose()


def _fill(engine: Engine) -> None:
    """A table `filler` of 50,000 rows of 200 characters (about 12 MB of pages)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (k INTEGER PRIMARY KEY, v TEXT)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) "
            "INSERT INTO filler SELECT i, printf('%0200d', i) FROM n"
        )


def test_connections_reading_a_store_larger_than_the_cap_stay_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17.2 (flat memory): three connections, each with its 24 MB cache, read a table of
    about 12 MB at the same time; their caches together stay near the cap (4 MB here), where
    without it each would keep the whole table (about 36 MB)."""
    cap = 4 * 2**20
    monkeypatch.setattr(db, "SQLITE_HEAP_LIMIT", cap)
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        _fill(engine)
        shrink_idle(engine)
        with engine.connect() as a, engine.connect() as b, engine.connect() as c:
            for conn in (a, b, c):
                total = conn.exec_driver_sql("SELECT sum(length(v)) FROM filler").scalar_one()
                assert total == 50000 * 200
            assert _sqlite_memory_used() < 2 * cap
    finally:
        engine.dispose()
        with contextlib.closing(sqlite3.connect(":memory:")) as plain:  # the process-wide cap
            plain.execute(f"PRAGMA soft_heap_limit={SQLITE_HEAP_LIMIT}")


def test_a_small_heap_holds_the_connections_caches_to_its_limit_then_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (peak RSS <= 200 MB at 10k): within `small_heap` a table of about 12 MB read
    through two connections leaves SQLite holding about the small limit (4 MB here), where
    the process's limit (32 MB here) would let them keep most of it; the process's limit is
    back after the block, also when it raised."""
    monkeypatch.setattr(db, "SQLITE_HEAP_LIMIT", 32 * 2**20)
    monkeypatch.setattr(db, "SQLITE_SMALL_HEAP_LIMIT", 4 * 2**20)
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        _fill(engine)

        def read_twice() -> int:
            shrink_idle(engine)
            with engine.connect() as a, engine.connect() as b:
                for conn in (a, b):
                    total = conn.exec_driver_sql("SELECT sum(length(v)) FROM filler")
                    assert total.scalar_one() == 50000 * 200
                return _sqlite_memory_used()

        with small_heap(engine):
            held_small = read_twice()
        held_large = read_twice()
        assert held_small < 8 * 2**20 < held_large
        with pytest.raises(RuntimeError), small_heap(engine):
            raise RuntimeError("a stage failed")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar_one() == 32 * 2**20
    finally:
        engine.dispose()
        with contextlib.closing(sqlite3.connect(":memory:")) as plain:  # the process-wide cap
            plain.execute(f"PRAGMA soft_heap_limit={SQLITE_HEAP_LIMIT}")


def _sqlite_memory_highwater(*, reset: bool) -> int:
    """SQLite's high-water mark of bytes held in this process since the last reset."""
    import _sqlite3

    try:
        highwater = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_highwater
    except (OSError, AttributeError):
        pytest.skip("sqlite3_memory_highwater is not reachable from this Python")
    highwater.restype = ctypes.c_int64
    highwater.argtypes = [ctypes.c_int]
    return int(highwater(int(reset)))


def test_a_small_heap_holds_each_connections_cache_and_sorts_small_then_lets_go(
    tmp_path: Path,
) -> None:
    """Issue 17 (memory flat to 50k): a connection's sorter (a GROUP BY without an index) holds
    up to its cache size in memory before it spills to a temp file, outside the soft heap
    limit: the report's newest record per source sorted every visit in up to 32 MB. Within
    `small_heap` each connection checked out has the small cache, so a GROUP BY over a table
    of about 12 MB stays near it; after the block the next checkout has the full cache again,
    and the sort its memory, with the same result."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    group = "SELECT v || '' AS k, count(*) FROM filler GROUP BY k ORDER BY k DESC LIMIT 1"
    try:
        _fill(engine)

        def sort() -> tuple[int, int, tuple[object, ...]]:
            shrink_idle(engine)
            with engine.connect() as conn:
                size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
                _sqlite_memory_highwater(reset=True)
                row = tuple(conn.exec_driver_sql(group).one())
                return size, _sqlite_memory_highwater(reset=True), row

        with small_heap(engine):
            small_size, small_peak, small_row = sort()
            with engine.connect() as a, engine.connect() as b:  # a new one too
                for conn in (a, b):
                    size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
                    assert size == -db.SQLITE_SMALL_HEAP_CACHE_KIB
        large_size, large_peak, large_row = sort()
        assert small_row == large_row == (f"{50000:0200d}", 1)
        assert small_size == -db.SQLITE_SMALL_HEAP_CACHE_KIB
        assert large_size == -db.SQLITE_CACHE_KIB
        assert small_peak < 6 * 2**20 < 10 * 2**20 < large_peak
    finally:
        engine.dispose()


def test_a_connection_keeps_few_prepared_statements_of_batch_sized_lookups(
    tmp_path: Path,
) -> None:
    """Issue 17.2 (memory flat as the org grows): a batch's `IN (...)` lookup has a parameter
    per key, so every batch size is a statement of its own (about 200 KB with 1,000 keys);
    the sqlite3 module kept the last 128 of them prepared on each connection, outside the
    soft heap limit (17 MB more in a pull at 5,000 reps, more as a larger org sees more batch
    sizes). A connection now keeps SQLITE_STATEMENTS of them."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        shrink_idle(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM meta").scalar_one()
            before = _sqlite_memory_used()
            for n in range(1000, 1128):  # 128 batch sizes, as a long pull meets them
                keys = tuple(f"k{i}" for i in range(n))
                sql = f"SELECT value FROM meta WHERE key IN ({', '.join(['?'] * n)})"
                assert conn.exec_driver_sql(sql, keys).all() == []
            grown = _sqlite_memory_used() - before
        # SQLITE_STATEMENTS (16) of ~1,000 parameters: about 4 MB; 128 of them: about 28 MB
        assert grown < 8 * 2**20
    finally:
        engine.dispose()


def test_shrinking_the_idle_connection_keeps_the_store_usable(engine: Engine) -> None:
    """Issue 17 (flat memory): `shrink_idle` frees the pooled SQLite connection's page cache
    between stages (a no-op on PostgreSQL); what was written is read back after it."""
    with engine.begin() as conn:
        conn.execute(schema.meta.insert().values(key="probe", value="1"))
    shrink_idle(engine)
    with engine.connect() as conn:
        value = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "probe")
        ).scalar_one()
    assert value == "1"
