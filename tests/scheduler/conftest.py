"""Fixtures for the service tests: the store fixtures (SQLite and PostgreSQL) and a real LRS
with credentials of its own, so that a log line holding them can be told apart."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from tests.harness.lrs_server import LocalLRS, lrs_available
from tests.scheduler.serving import StoreWatch
from tests.store.conftest import _fresh_logging, engine, postgres_server, postgres_url, store_url
from tests.support import install_local_lrs, require

__all__ = [
    "_fresh_logging",
    "engine",
    "postgres_server",
    "postgres_url",
    "private_lrs",
    "store_url",
    "store_watch",
]


@pytest.fixture
def private_lrs() -> Iterator[LocalLRS]:
    install_local_lrs()
    require("local LRS", lrs_available())
    with LocalLRS(
        username=f"lrs-key-{secrets.token_hex(6)}", password=f"lrs-secret-{secrets.token_hex(12)}"
    ) as lrs:
        yield lrs


@pytest.fixture
def store_watch() -> Iterator[Callable[[str], StoreWatch]]:
    """Read-only views of stores under test, closed after the test whatever its outcome (an
    engine left open is garbage collected later, failing whichever test runs then)."""
    made: list[StoreWatch] = []

    def watch(url: str) -> StoreWatch:
        made.append(StoreWatch(url))
        return made[-1]

    yield watch
    for each in made:
        each.close()
