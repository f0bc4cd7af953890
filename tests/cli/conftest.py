"""What every command-line test needs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands configure structlog to the runner's stderr, which is gone after the test."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
