"""The scenario fixture shared by the adoption tests: a fresh SQLite store and a connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adoption.scenario import Scenario, sqlite_store


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with sqlite_store(tmp_path) as engine, engine.connect() as conn:
        yield Scenario(conn)
