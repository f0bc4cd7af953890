"""Issue 17 point 3: bench/run.py --store postgresql. The bench's stores (bench/stores.py): a
PostgreSQL server started in the work folder and stopped at the end, and the readers of the
run's store (last run, row counts, size, pending outbox rows) on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text

from adoptloop.store import schema
from adoptloop.store.db import open_store
from adoptloop.store.outbox import enqueue_values
from bench import stores
from tests.harness.postgres import find_bindir, postgres_unavailable
from tests.support import require


def _require_local_postgres() -> None:
    reason = postgres_unavailable() or (
        None if find_bindir() else "no initdb/pg_ctl (the bench starts its own server)"
    )
    require("PostgreSQL", reason)


@contextlib.contextmanager
def _work_folder() -> Iterator[Path]:
    """A work folder as bench/run.py makes one (tempfile.mkdtemp: 0700, under /tmp). Not
    pytest's tmp_path: as root, its parent is closed to the `postgres` user the server runs as."""
    work = Path(tempfile.mkdtemp(prefix="adoptloop-bench-test-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module", params=stores.KINDS)
def bench_stores(request: pytest.FixtureRequest) -> Iterator[stores.Stores]:
    if request.param == "postgresql":
        _require_local_postgres()
    with _work_folder() as work, stores.open_stores(request.param, work) as made:
        yield made


@pytest.fixture
def work() -> Iterator[Path]:
    with _work_folder() as folder:
        yield folder


def test_postgresql_server_lives_in_the_work_folder_and_stops_at_the_end(work: Path) -> None:
    """Issue 17 point 3: `--store postgresql` starts its own server (initdb in <work>/postgres,
    127.0.0.1), gives each size a database named in store.url with the password in a file
    (not in the URL), and stops the server and removes its folder at the end."""
    _require_local_postgres()
    org = work / "org-1000"
    org.mkdir()
    with stores.open_stores("postgresql", work) as made:
        assert isinstance(made, stores.PostgresStores)
        assert (work / "postgres" / "data" / "PG_VERSION").is_file()
        run_store = made.run_store(org)
        password = made.cluster.password
        assert password not in run_store.config
        assert "url: postgresql+psycopg://adoptloop@127.0.0.1:" in run_store.config
        assert "/bench_org_1000\n" in run_store.config
        assert "password: ${file:pg-password.txt}" in run_store.config
        assert (org / "pg-password.txt").read_text().strip() == password
        engine = open_store(run_store.url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == "bench_org_1000"
        engine.dispose()
    assert not (work / "postgres").exists()


def test_readers_of_the_run_store_work_on_both_stores(
    bench_stores: stores.Stores, tmp_path: Path
) -> None:
    """Issue 17 point 3: what bench/run.py reads from the run's store (the last run's stage
    seconds and statements, the row counts and size, the pending outbox rows) reads SQLite and
    PostgreSQL alike (SQLAlchemy, not sqlite3)."""
    org = tmp_path / f"org-{uuid.uuid4().hex[:8]}"
    (org / "state").mkdir(parents=True)
    run_store = bench_stores.run_store(org)
    engine = open_store(run_store.url)
    counts = {
        "pull": {"seconds": 2.0, "crm": {"calls": {"read": 7}}, "hris": {"people": {"read": 3}}},
        "translate": {"seconds": 0.5, "observations": {"statements": 40, "voided": 2}},
    }
    with engine.begin() as conn:
        for started, run_counts in (("2026-01-01T00:00:00Z", {}), ("2026-01-02T00:00:00Z", counts)):
            conn.execute(
                insert(schema.runs).values(
                    run_id=str(uuid.uuid4()),
                    pipeline="nightly",
                    scheduled_for=f"manual:{started}",
                    started_at=started,
                    status="succeeded",
                    counts=json.dumps(run_counts),
                )
            )
        enqueue_values(
            conn,
            [(str(uuid.uuid4()), "rating", f'{{"n": {i}}}'.encode(), None) for i in range(3)],
            "run-1",
        )
    engine.dispose()

    last = stores.last_run(run_store.url)
    facts = stores.store_facts(bench_stores, run_store.url)
    pending = stores.pending_payloads(run_store.url, 2)

    assert last["stages"] == {"pull": 2.0, "translate": 0.5}
    assert (last["records_read"], last["statements"], last["statements_per_second"]) == (10, 42, 84)
    assert facts["rows"]["outbox"] == 3
    assert facts["rows"]["ratings"] == 0
    assert facts["store_mb"] > 0
    assert [payload for _, payload in pending] == ['{"n": 0}', '{"n": 1}']


def test_a_baseline_store_is_fresh_and_removed_after(bench_stores: stores.Stores) -> None:
    """Issue 17 point 3: the kernel and naive baselines write into a fresh store of the run's
    kind (a new database on the bench's server for PostgreSQL), gone after the baseline."""
    with bench_stores.fresh() as engine:
        url = engine.url
        assert engine.dialect.name == bench_stores.kind
        with engine.connect() as conn:
            assert conn.execute(select(schema.outbox.c.seq)).first() is None
    if isinstance(bench_stores, stores.PostgresStores):
        admin = create_engine(url.set(database="postgres"))
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
            ).first()
        admin.dispose()
        assert found is None
    else:
        assert url.database is not None
        assert not Path(url.database).exists()
