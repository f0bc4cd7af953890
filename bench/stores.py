"""Where bench/run.py keeps each size's store, and the bench's readers of it.

- `sqlite` (the default): the store is `state/store.db` in the org's folder, as the embedded
  default of a real install.
- `postgresql`: a PostgreSQL server the bench starts itself with tests/harness/postgres.py's
  throwaway cluster: initdb in the work folder (`<work>/postgres`), listening on 127.0.0.1 on
  a free port, fsync off, stopped (and its folder removed) at the end. The binaries come from
  ADOPTLOOP_TEST_POSTGRES_BINDIR (else the newest /usr/lib/postgresql/*/bin, then PATH). Each
  size gets a database of its own; the config names it in `store.url` and reads the password
  from a file (`store.password: ${file:pg-password.txt}`), as a real config must.

The baselines' fresh stores (bench/baselines.py) are of the same kind: a temporary SQLite
file, or a fresh database on the same server, so that the ratios compare like with like.

The readers (the last run's counts, the row counts, the store's size, the outbox rows the
delivery steps send) go through SQLAlchemy (`adoptloop.store.db.open_store`), so they read
either store.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import URL
from tests.harness.postgres import LocalCluster, find_bindir, postgres_unavailable

from adoptloop.store import schema
from adoptloop.store.db import open_store, sqlite_path
from adoptloop.store.outbox import PENDING

StoreKind = Literal["sqlite", "postgresql"]
KINDS: tuple[StoreKind, ...] = ("sqlite", "postgresql")
COUNTED = ("people", "completions", "observations", "ratings", "interactions", "outbox")


@dataclass(frozen=True)
class RunStore:
    """The store of one size: its URL (with the password, for the bench's own readers) and
    the `store:` section of the config `adoptloop run` reads."""

    url: str
    config: str


class Stores(Protocol):
    kind: StoreKind

    def run_store(self, org: Path) -> RunStore:
        """An empty store for the org in `org` (its config goes into that folder)."""

    def fresh(self) -> contextlib.AbstractContextManager[Engine]:
        """A fresh, empty store for a baseline; removed when the block ends."""

    def size_mb(self, url: str) -> float:
        """The store's size on disk."""


class SQLiteStores:
    kind: StoreKind = "sqlite"

    def run_store(self, org: Path) -> RunStore:
        path = org / "state" / "store.db"
        return RunStore(url=f"sqlite:///{path}", config="  url: sqlite:///state/store.db\n")

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Engine]:
        work = Path(tempfile.mkdtemp(prefix="adoptloop-baseline-"))
        engine = open_store(f"sqlite:///{work / 'store.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
            shutil.rmtree(work, ignore_errors=True)

    def size_mb(self, url: str) -> float:
        path = sqlite_path(url)
        assert path is not None
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return round(size / 2**20, 1)


class PostgresStores:
    """A local cluster in `<work>/postgres`; one database per size, one per baseline."""

    kind: StoreKind = "postgresql"

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self._baselines = itertools.count(1)

    def run_store(self, org: Path) -> RunStore:
        name = "bench_" + org.name.replace("-", "_")  # org-10000 -> bench_org_10000
        self.cluster.drop_database(name)
        url = self.cluster.create_database(name)
        (org / "pg-password.txt").write_text(self.cluster.password + "\n")
        shown = URL.create(
            "postgresql+psycopg",
            username=self.cluster.USER,
            host="127.0.0.1",
            port=self.cluster.port,
            database=name,
        ).render_as_string()
        return RunStore(url=url, config=f"  url: {shown}\n  password: ${{file:pg-password.txt}}\n")

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Engine]:
        name = f"baseline_{next(self._baselines)}"
        self.cluster.drop_database(name)
        engine = open_store(self.cluster.create_database(name))
        try:
            yield engine
        finally:
            engine.dispose()
            self.cluster.drop_database(name)

    def size_mb(self, url: str) -> float:
        engine = open_store(url)
        try:
            with engine.connect() as conn:
                size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        finally:
            engine.dispose()
        return round(int(size or 0) / 2**20, 1)


@contextlib.contextmanager
def open_stores(kind: StoreKind, work: Path) -> Iterator[Stores]:
    """The stores of one bench run; a PostgreSQL server is started here and stopped at the end."""
    if kind == "sqlite":
        yield SQLiteStores()
        return
    reason = postgres_unavailable()
    bindir = find_bindir()
    if reason or bindir is None:
        raise SystemExit(f"--store postgresql: {reason}")
    root = work.resolve() / "postgres"
    if root.exists():
        shutil.rmtree(root)
    if os.geteuid() == 0:  # initdb runs as `postgres`: it must reach the folder
        _let_others_traverse(work.resolve())
    cluster = LocalCluster(bindir, root=root)
    try:
        cluster.start()
        yield PostgresStores(cluster)
    finally:
        cluster.stop()


def _let_others_traverse(work: Path) -> None:
    """The work folder gets o+x (a fresh temporary folder is 0700); its parents must have it."""
    work.chmod(work.stat().st_mode | stat.S_IXOTH)
    for parent in work.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise SystemExit(
                f"--store postgresql as root: the server runs as `postgres`, which cannot reach "
                f"{work} ({parent} is not searchable by others); pick another --work"
            )


# --- the readers -------------------------------------------------------------------------------


@contextlib.contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = open_store(url)
    try:
        yield engine
    finally:
        engine.dispose()


def last_run(url: str) -> dict[str, Any]:
    """The latest run's counts: seconds by stage, records read, statements made."""
    runs = schema.runs
    with _engine(url) as engine, engine.connect() as conn:
        raw = conn.execute(
            select(runs.c.counts).order_by(runs.c.started_at.desc()).limit(1)
        ).scalar_one()
    counts = json.loads(raw)
    stages = {name: value["seconds"] for name, value in counts.items() if isinstance(value, dict)}
    translate = counts.get("translate", {})
    made = sum(
        t.get("statements", 0) + t.get("voided", 0)
        for t in translate.values()
        if isinstance(t, dict)
    )
    records = sum(
        s.get("read", 0)
        for source in counts.get("pull", {}).values()
        if isinstance(source, dict)
        for s in source.values()
        if isinstance(s, dict)
    )
    return {
        "stages": stages,
        "records_read": records,
        "statements": made,
        "statements_per_second": round(made / stages["translate"])
        if stages.get("translate")
        else None,
        "counts": counts,
    }


def store_facts(stores: Stores, url: str) -> dict[str, Any]:
    """The store's size and its main tables' row counts."""
    with _engine(url) as engine, engine.connect() as conn:
        rows = {
            name: conn.execute(
                select(func.count()).select_from(schema.metadata.tables[name])
            ).scalar_one()
            for name in COUNTED
        }
    return {"store_mb": stores.size_mb(url), "rows": rows}


def pending_payloads(url: str, count: int) -> list[tuple[str, str]]:
    """(statement id, payload) of the first `count` pending outbox rows."""
    t = schema.outbox
    with _engine(url) as engine, engine.connect() as conn:
        rows = conn.execute(
            select(t.c.statement_id, t.c.payload)
            .where(t.c.state == PENDING)
            .order_by(t.c.seq)
            .limit(count)
        ).all()
    return [(r.statement_id, r.payload) for r in rows]
