"""The scenario fixture shared by the adoption tests: a fresh SQLite store and a connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.synthetic import OrgSpec, generate_org
from sqlalchemy import Engine

from adoptloop.store.db import open_store
from tests.adoption.scenario import Scenario, sqlite_store


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with sqlite_store(tmp_path) as engine, engine.connect() as conn:
        yield Scenario(conn)


@pytest.fixture
def org(tmp_path: Path) -> Path:
    """A 40-rep synthetic org's file drops (no deliberately bad rows)."""
    out = tmp_path / "org"
    generate_org(out, OrgSpec(reps=40, bad_rows=False))
    return out


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite store."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()
