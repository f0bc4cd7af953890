"""Shared set-up of the LMS connector tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog.testing


@pytest.fixture(autouse=True)
def _captured_logs() -> Iterator[None]:
    """Log events go to a capture, whatever logging set-up another test left behind."""
    with structlog.testing.capture_logs():
        yield
