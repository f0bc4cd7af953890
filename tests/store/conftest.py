"""The store's tests run against SQLite and a real PostgreSQL server.

PostgreSQL is a throwaway cluster on 127.0.0.1 started by `tests.harness.postgres` (or
the server named by ADOPTLOOP_TEST_POSTGRES_URL); each test gets a database of its own.
Without one the PostgreSQL cases skip, or fail under ADOPTLOOP_REQUIRE_ALL=1 (CI).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import Engine

from adoptloop.store.db import open_store
from tests.harness.postgres import PostgresServer, postgres_unavailable, start_postgres
from tests.support import require


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """A CLI invocation configures structlog to write to its (then closed) captured stderr."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require("PostgreSQL", postgres_unavailable())
    with start_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = open_store(store_url)
    yield engine
    engine.dispose()
