"""Opening the store: engine, SQLite pragmas, and the versioned schema.

The schema is versioned with Alembic (store/migrations/). An empty database is created from
store/schema.py and stamped at the head revision (without importing Alembic); an older one is
upgraded revision by revision; a store written before Alembic (meta.schema_version only) is
first stamped at its version's revision. All of it happens in one transaction that other
processes wait for; a newer store (written by a later adoptloop) is refused, never misread or
changed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DatabaseError, NoSuchModuleError, OperationalError, SQLAlchemyError
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from adoptloop.errors import AdoptloopError, ConfigError, StoreVersionError
from adoptloop.store import schema

log = structlog.get_logger(__name__)


def create_store_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        driver = {"timeout": 30, "cached_statements": SQLITE_STATEMENTS}
        if not database or database == ":memory:":
            engine = create_engine(url, connect_args=driver)
        else:
            # One connection kept between uses (each has its own page cache, which fills as the
            # store grows); those opened while it is in use (the states stage's second
            # connection, the run lock's heartbeat, delivery workers) are closed on return.
            engine = create_engine(
                url, connect_args=driver, pool_size=1, max_overflow=_SQLITE_OVERFLOW
            )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkout", _sqlite_cache_for_heap)
        event.listen(engine, "handle_error", _read_only_is_a_configuration_error)
        return engine
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ModuleNotFoundError, NoSuchModuleError) as exc:
        raise ConfigError(
            f"store.url {parsed.render_as_string(hide_password=True)}: the database driver is "
            f"not installed ({exc}); for PostgreSQL: pip install 'adoptloop[postgres]'"
        ) from None
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_settings)
    event.listen(engine, "handle_error", _read_only_is_a_configuration_error)
    return engine


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    """Every server-side cursor the store opens (`yield_per`: the adoption pass's merge of HR
    rows, completions and ratings, the metric streams) is read to its end: PostgreSQL is told
    to plan it for all its rows (cursor_tuple_fraction = 1) rather than for a fast first 10 %,
    which picks nested loops over whole tables where a hash join and one sort read less."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET cursor_tuple_fraction = 1")
    dbapi_connection.commit()


_SQLITE_OVERFLOW = 14  # connections at once beyond the kept one (the pool's 5 + 10 before)


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


# Switching a new, empty database to WAL takes an exclusive lock for which SQLite does not
# always call the busy handler (two first starts at once: one gets "database is locked" at
# once instead of waiting the connection's 30 s), so the switch waits as that timeout would.
@retry(
    retry=retry_if_exception(_locked),
    wait=wait_exponential(multiplier=0.01, max=0.5),
    stop=stop_after_delay(30),
    reraise=True,
)
def _wal(cursor: sqlite3.Cursor) -> None:
    cursor.execute("PRAGMA journal_mode=WAL")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every ~40 MB instead of every 4 MB: a bulk stage rewrites the same
    # index pages in many commits, and each checkpoint copies (and syncs) every page once.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A 24 MB page cache (the default is 2 MB): random statement ids and HR ids spread each
    # batch's outbox and emitted index writes over whole indexes, which a small cache re-reads
    # from the file page by page once the store outgrows it. Sorts stay in temp files (not
    # temp_store=MEMORY): sorting a million ratings in memory would grow with the org.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    # ... and all the connections of the process together hold at most SQLITE_HEAP_LIMIT: a
    # connection's cache fills as the store grows, and a stage may have several open (the
    # translate writer and reader, the run lock's heartbeat, the states stage's two), so
    # their caches alone would grow the process by up to 24 MB each. Past the limit, SQLite
    # recycles a connection's least recently used pages instead of allocating more.
    cursor.execute(f"PRAGMA soft_heap_limit={_heap_limit()}")
    cursor.close()


# Bytes of memory all SQLite connections of the process use together (a soft limit: SQLite's
# page caches give pages back to stay under it): one full 24 MB cache, for the connection that
# writes, plus room for the others' (the streaming reads' 2 MB caches, statements, schemas).
SQLITE_HEAP_LIMIT = 32 * 2**20

# KiB of page cache of each SQLite connection (_sqlite_pragmas), but within small_heap. 24 MB,
# not the 32 MB of before (issue 17, the run's peak): from about 10,000 reps the outbox's and
# emitted's indexes on random ids outgrow either, and each batch's index writes miss about as
# often with both. Measured at 10k reps: the translate stage alone on the same store, nine
# back-to-back pairs, CPU 7.15-8.02 s with 24 MB and 7.23-7.77 s with 32 MB (mean difference
# -0.02 s), wall -0.1 s; the full run's pull the same; the run's peak ~8 MB lower at the end of
# the pull and of translate. 16 MB saved 8 MB more but cost translate ~0.25 CPU-s (11 pairs;
# not profiled further). A larger cache gave nothing (128 MB for translate,
# 256 MB for the pull: bench/RESULTS.md); 200,000 random-id outbox and emitted inserts into
# tables of 150,000 and 1.6M rows (10k and 50k reps) took the same CPU with 16, 24 and 32 MB.
SQLITE_CACHE_KIB = 24576

# Prepared statements each SQLite connection keeps (the sqlite3 module's default is 128). A
# batch's lookups (`IN (...)` over its keys, `VALUES` lists) have as many parameters as the
# batch has keys, so each batch size is a statement of its own, of about 200 KB with 1,000
# keys; with the default, a pull kept up to 128 of them per connection (17 MB measured at
# 5,000 reps, outside the soft heap limit, and more the more batch sizes a larger org sees).
# A stage runs fewer distinct statements than this per batch, so the ones it repeats stay
# prepared.
SQLITE_STATEMENTS = 16


# PostgreSQL's SQLSTATE for a write in a read-only transaction (a standby, or a role or
# database with default_transaction_read_only = on)
_PG_READ_ONLY = "25006"


def _read_only_is_a_configuration_error(context: ExceptionContext) -> None:
    """A write refused because the store is read-only (the SQLite file or its folder, a
    PostgreSQL standby or read-only role): exit 2 naming the store, whichever write met it
    first (a migration, the run lock, a reset). An up-to-date store opens without writing, so
    the commands that only read (status, export) still work."""
    original = context.original_exception
    reason = str(original).strip()
    if getattr(original, "sqlstate", None) == _PG_READ_ONLY:
        engine = context.engine
        store = engine.url.render_as_string(hide_password=True) if engine else "(PostgreSQL)"
        raise ConfigError(
            f"the store {store} is read-only ({reason.splitlines()[0]}); point store.url at the "
            "primary server, with a role that may write (default_transaction_read_only off)"
        )
    if "readonly" in reason.replace(" ", "").lower():
        engine = context.engine
        store = engine.url.render_as_string(hide_password=True) if engine else "(SQLite)"
        raise ConfigError(
            f"the store {store} is read-only ({reason}); give the user running adoptloop write "
            "access to the database file and its folder (SQLite writes -wal and -shm files "
            "beside it)"
        )


def _schema_version(conn: Connection) -> int | None:
    """meta.schema_version (None: no adoptloop store here)."""
    if not inspect(conn).has_table("meta"):
        return None
    value = conn.execute(
        select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
    ).scalar_one_or_none()
    return None if value is None else int(value)


# PostgreSQL: the advisory lock that serializes schema creation and migration between processes
_SCHEMA_LOCK = 0x61646F7073636D61  # "adopscma"


def _exclusive(conn: Connection) -> None:
    """Make this transaction the only one changing the schema, and make its DDL atomic: on
    SQLite an explicit BEGIN IMMEDIATE (the driver would otherwise commit DDL statement by
    statement, so a kill mid-creation left a store no run could open); on PostgreSQL, whose
    DDL is transactional, a transaction-scoped advisory lock (two first starts: one creates,
    the other waits and then finds the schema)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})


_REVISIONS = Path(__file__).parent / "migrations" / "versions"  # v<revision id>.py each


def _up_to_date(conn: Connection) -> bool:
    """The common case, read without Alembic (its import is a fifth of a second of every run):
    meta.schema_version is this release's, and so is the one revision in alembic_version: its
    number is SCHEMA_VERSION (a revision id starts with its schema version number; the head's
    is SCHEMA_VERSION, tests/store/test_migrations.py checks) and its file is among ours."""
    if _schema_version(conn) != schema.SCHEMA_VERSION:
        return False
    if not inspect(conn).has_table("alembic_version"):
        return False
    found = conn.execute(select(schema.alembic_version.c.version_num)).scalars().all()
    if len(found) != 1:
        return False
    number = found[0].split("_", 1)[0]
    return (
        number.isdigit()
        and int(number) == schema.SCHEMA_VERSION
        and (_REVISIONS / f"v{found[0]}.py").is_file()
    )


def _head_revision() -> str:
    """The head revision's id, read without Alembic: the one revision file numbered
    SCHEMA_VERSION (tests/store/test_migrations.py checks it is Alembic's head)."""
    (path,) = _REVISIONS.glob(f"v{schema.SCHEMA_VERSION:04d}_*.py")
    return path.stem.removeprefix("v")


def _stamp(conn: Connection, revision: str) -> None:
    """Record that the store is at `revision` without running anything, as Alembic's stamp
    does (its alembic_version row, created if missing) with meta.schema_version mirroring it
    (schema.mirror_writes, as migrations.mirror_schema_version). Written here, not through Alembic, so that a run on a
    new store does not import Alembic: its modules stay in the run's memory to the end (about
    7 MB of the 10k bench run's peak, issue 17)."""
    schema.alembic_version.create(conn, checkfirst=True)
    conn.execute(schema.alembic_version.delete())
    conn.execute(schema.alembic_version.insert().values(version_num=revision))
    for write in schema.mirror_writes(revision):
        conn.execute(write)


def migrate(engine: Engine) -> int:
    """Bring the store to the head revision (schema.SCHEMA_VERSION), in one atomic transaction
    that other processes wait for; returns the schema version found before (0: a new store)."""
    with engine.connect() as probe:  # the common case, an up-to-date store: no write lock
        if _up_to_date(probe):
            return schema.SCHEMA_VERSION
    with engine.begin() as conn:
        _exclusive(conn)
        found = _schema_version(conn)
        if found is None:
            if inspect(conn).get_table_names():
                raise StoreVersionError(
                    f"{engine.url.render_as_string(hide_password=True)} holds tables but no "
                    "adoptloop schema version; point store.url at an empty or adoptloop database"
                )
            schema.metadata.create_all(conn)
            _stamp(conn, _head_revision())
            return 0
        if found > schema.SCHEMA_VERSION:
            raise StoreVersionError(
                f"the store is at schema version {found}, but this adoptloop understands up to "
                f"{schema.SCHEMA_VERSION}; upgrade adoptloop (the store was not changed)"
            )
        from adoptloop.store import migrations  # noqa: PLC0415 - Alembic only for a migration

        known = {
            migrations.number(s.revision): s.revision
            for s in migrations.scripts(conn).walk_revisions()
        }
        revision = migrations.current_revision(conn)
        if revision is None:  # written by adoptloop before Alembic: meta.schema_version only
            if found not in known:
                raise StoreVersionError(
                    f"the store is at schema version {found}, which no adoptloop wrote; restore "
                    "it from a backup (the store was not changed)"
                )
            revision = known[found]
            _stamp(conn, revision)
        elif revision not in known.values():
            raise StoreVersionError(
                f"the store is at schema revision {revision}, but this adoptloop understands up "
                f"to {migrations.scripts(conn).get_current_head()} (schema version {schema.SCHEMA_VERSION}); upgrade adoptloop (the "
                "store was not changed)"
            )
        migrations.upgrade(conn)
        return migrations.number(revision)


class StoreUnavailable(AdoptloopError):
    """The database cannot be reached; nothing was done. Retrying later may succeed.

    `cause` names the database error behind it (e.g. "OperationalError"), when there was one.
    """

    exit_code = 75  # EX_TEMPFAIL, as for a busy run lock

    def __init__(self, message: str, *, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause


@contextlib.contextmanager
def unavailable_on(errors: type[SQLAlchemyError] = SQLAlchemyError) -> Iterator[None]:
    """Database `errors` raised in the block surface as StoreUnavailable (same message), so
    that callers outside the store handle our error, never the database library's."""
    try:
        yield
    except errors as exc:
        raise StoreUnavailable(str(exc), cause=exc.__class__.__name__) from exc


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; any database error surfaces as StoreUnavailable."""
    with unavailable_on(), engine.connect() as conn:
        yield conn


STREAM_CACHE_KIB = 2048  # SQLite's default page cache, for a connection that streams


@contextlib.contextmanager
def streaming(engine: Engine) -> Iterator[Connection]:
    """A connection for one long sequential read (every rating, in order), with a small page
    cache: each page is read once, so caching 24 MB of them only adds to the process's memory
    while the connection that writes keeps its own cache."""
    with engine.connect() as conn, _pragma(conn, "cache_size", -STREAM_CACHE_KIB):
        yield conn


@contextlib.contextmanager
def no_checkpoints(conn: Connection) -> Iterator[None]:
    """SQLite: `conn`'s commits leave the WAL unchecked for the block (wal_autocheckpoint 0),
    as it was after it. For a writer whose inputs stream from another connection's read
    transaction, open as long as the block: no frame written after that snapshot began can be
    copied back while it is open, yet every commit past the WAL's threshold tried, walking
    the whole WAL each time (the first adoption pass at 50,000 reps: ~0.4 of its main
    thread's CPU-s, for nothing). The first commit after the block checkpoints as before."""
    with _pragma(conn, "wal_autocheckpoint", 0):
        yield


@contextlib.contextmanager
def _pragma(conn: Connection, name: str, value: int) -> Iterator[None]:
    """SQLite: `conn`'s integer PRAGMA `name` set to `value` for the block, then back to what
    it was (elsewhere: nothing)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    was = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
    conn.exec_driver_sql(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA {name}={int(was or 0)}")


@contextlib.contextmanager
def checkpoint_beside(conn: Connection) -> Iterator[None]:
    """SQLite: a passive checkpoint of the WAL on a connection of its own, in a thread beside
    the block (the driver lets go of the GIL while SQLite copies the pages), waited for at its
    end; then one on `conn` (out of its transaction by then) of what the block wrote beside
    it. After a long read that kept the WAL unchecked (no_checkpoints), the WAL holds every
    page a pass wrote (the first adoption pass at 50,000 reps: ~116,000 pages, ~0.6-0.9 s of
    copying and syncing): copied while the block does its own work, not by its next commit.
    The WAL is left copied back whole, as a commit's checkpoint left it: the next write
    starts it again from its beginning (a WAL left at its length, every later write appended
    to it, made the adoption stage's reads slower: 1.5 -> 2.3 s at 50,000 reps).
    A checkpoint beside that fails is logged: the one after it copies the WAL."""
    if conn.dialect.name != "sqlite":
        yield
        return
    engine = conn.engine

    def checkpoint() -> None:
        try:
            with engine.connect() as own:
                own.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except SQLAlchemyError as error:
            log.warning("checkpoint beside the stage failed", error=str(error))

    thread = threading.Thread(target=checkpoint, name="checkpoint", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


# What all SQLite connections of the process hold together while a stage whose writes go to
# small tables runs (the adoption stage's kept sums and report reads): their pages are found
# again at about the same cost with a smaller cache (measured at 10,000 reps: the stage's CPU
# the same with 40 MB and 16 MB, its peak 17 MB lower).
SQLITE_SMALL_HEAP_LIMIT = 16 * 2**20

# KiB of page cache of each connection used within small_heap. The cache size is also what a
# connection's sorter (GROUP BY, ORDER BY, DISTINCT without an index) holds in memory before it
# spills to a temp file, outside the soft heap limit: the report's newest record per source
# (store.metrics.newest_dates) sorted every visit and completion in up to 32 MB (SQLite's
# high-water 31.8 MB at 10,000 reps, 4.2 MB with this cache, in the same CPU time).
SQLITE_SMALL_HEAP_CACHE_KIB = 2048


_small_heaps = [0]  # blocks of small_heap open in this process (the limit is the process's)


def _heap_limit() -> int:
    """The soft heap limit now: a connection opened within small_heap keeps the small one."""
    return SQLITE_SMALL_HEAP_LIMIT if _small_heaps[0] else SQLITE_HEAP_LIMIT


@contextlib.contextmanager
def small_heap(engine: Engine) -> Iterator[None]:
    """Hold SQLite's memory to SQLITE_SMALL_HEAP_LIMIT in the block (the soft heap limit is
    the process's, so every connection's cache gives pages back, and a connection opened in
    the block keeps it), SQLITE_HEAP_LIMIT after it; and each connection checked out in the
    block to a page cache (and sorter memory) of SQLITE_SMALL_HEAP_CACHE_KIB, SQLITE_CACHE_KIB
    at its next checkout after it. A no-op on PostgreSQL, whose caches are the server's."""
    if engine.dialect.name != "sqlite":
        yield
        return
    _small_heaps[0] += 1
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA soft_heap_limit={_heap_limit()}")
            release_cache(conn)
        yield
    finally:
        _small_heaps[0] -= 1
        with engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA soft_heap_limit={_heap_limit()}")


def _sqlite_cache_for_heap(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """At checkout: the connection's cache size for the block it is used in (small_heap or
    not), set only when it changes (the record remembers the last one set)."""
    kib = SQLITE_SMALL_HEAP_CACHE_KIB if _small_heaps[0] else SQLITE_CACHE_KIB
    if record.info.get("cache_kib", SQLITE_CACHE_KIB) != kib:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{kib}")
        cursor.close()
        record.info["cache_kib"] = kib


def shrink_idle(engine: Engine) -> None:
    """Free the page cache the pooled, idle SQLite connection holds (`PRAGMA shrink_memory`):
    a stage's cache (up to 24 MB, filled by its writes) is of no use to the next stage, whose
    reads and writes go to other pages or through other connections, each with its own cache.
    A no-op on PostgreSQL, whose caches are the server's."""
    with engine.connect() as conn:
        release_cache(conn)


def release_cache(conn: Connection) -> None:
    """Free the page cache of this SQLite connection (`PRAGMA shrink_memory`): pages read once
    are of no more use, and the memory can serve what comes next (the estimates' fits). A no-op
    on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA shrink_memory")


# PostgreSQL's autovacuum analyzes a table once its rows changed since the last ANALYZE pass
# autovacuum_analyze_threshold + autovacuum_analyze_scale_factor of it (defaults: 50 rows +
# 10 %), but it looks only once a minute (autovacuum_naptime), and the next stage plans its
# queries now: on a table the last stage filled, with the statistics of a nearly empty one.
ANALYZE_ROWS = 50
ANALYZE_SHARE = 0.1


def refresh_statistics(engine: Engine) -> list[str]:
    """ANALYZE the store's tables whose planner statistics a stage left stale: never analyzed,
    or changed since by more than autovacuum's threshold. Returns the tables analyzed, by
    name. PostgreSQL only: the SQLite store keeps no statistics (it never runs ANALYZE), so
    its plans do not go stale as tables fill. A table autovacuum is
    working on is skipped (SKIP_LOCKED): it is being analyzed already. An error is logged and
    swallowed: the stage's data is committed by then, and statistics are an optimisation."""
    if engine.dialect.name != "postgresql":
        return []
    stale = text(
        "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
        " WHERE s.schemaname = current_schema() AND s.relname = ANY(:names)"
        " AND ((s.last_analyze IS NULL AND s.last_autoanalyze IS NULL)"
        " OR s.n_mod_since_analyze > :rows + :share * GREATEST(c.reltuples, 0))"
        " ORDER BY s.relname"
    )
    try:
        return _analyze_stale(engine, stale)
    except SQLAlchemyError as exc:  # an optimisation: never the reason a stage fails
        log.warning("statistics not refreshed", error=str(exc).splitlines()[0])
        return []


def _analyze_stale(engine: Engine, stale: Any) -> list[str]:
    with engine.connect() as conn:
        names = list(
            conn.execute(
                stale,
                {
                    "names": sorted(schema.metadata.tables),
                    "rows": ANALYZE_ROWS,
                    "share": ANALYZE_SHARE,
                },
            ).scalars()
        )
        quote = conn.dialect.identifier_preparer.quote
        version = conn.dialect.server_version_info or (0,)
        analyze = "ANALYZE (SKIP_LOCKED)" if version >= (12,) else "ANALYZE"  # 12 added it
        for name in names:
            conn.exec_driver_sql(f"{analyze} {quote(name)}")
        conn.commit()
    return names


def open_store(url: str) -> Engine:
    engine = create_store_engine(url)
    try:
        migrate(engine)
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, DatabaseError) and not isinstance(exc, OperationalError):
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise ConfigError(
                f"the store {engine.url.render_as_string(hide_password=True)} cannot be used: "
                f"{reason}; it is not an adoptloop database (a damaged or foreign file?): "
                "restore it from a backup, or point store.url at a new file"
            ) from None
        if not isinstance(exc, OperationalError):
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else exc.__class__.__name__
        if engine.dialect.name == "sqlite" and "unable to open database file" in reason:
            raise ConfigError(
                f"the store {engine.url.render_as_string(hide_password=True)} cannot be opened "
                f"({reason}); give the user running adoptloop write access to its folder"
            ) from None
        raise StoreUnavailable(
            f"the store {engine.url.render_as_string(hide_password=True)} cannot be reached: "
            f"{reason}"
        ) from None
    return engine


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store URL, or None (another database, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def shared(url: str) -> bool:
    """Whether another process can open the store at `url` (any but SQLite in memory)."""
    return make_url(url).get_backend_name() != "sqlite" or sqlite_path(url) is not None


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite store (the backup API: safe while another process writes)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
