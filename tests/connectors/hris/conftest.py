"""The real SCIM server, one process for the session; each test takes its own tenant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog.testing

from tests.harness.scim_server import LocalScimServer, scim_server_available
from tests.support import require


@pytest.fixture(autouse=True)
def _captured_logs() -> Iterator[None]:
    """Log events go to a capture, whatever logging set-up another test left behind."""
    with structlog.testing.capture_logs():
        yield


@pytest.fixture(scope="session")
def scim_server() -> Iterator[LocalScimServer]:
    require("SCIM server (scim2-server)", scim_server_available())
    with LocalScimServer() as server:
        yield server
