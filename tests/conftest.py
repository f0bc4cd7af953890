"""Shared fixtures: a private copy of the demo, the real local LRS, and the skip policy.

A test whose real component (node + the LRS package, PostgreSQL, Chromium) is missing skips
with the reason on a developer machine; with ADOPTLOOP_REQUIRE_ALL=1 (CI) it fails instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.harness.lrs_server import LocalLRS, LRSInfo, lrs_available
from tests.support import copy_demo, install_local_lrs, require


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "config")


@pytest.fixture
def local_lrs() -> Iterator[tuple[LocalLRS, LRSInfo]]:
    install_local_lrs()
    require("local LRS", lrs_available())
    with LocalLRS() as lrs:
        yield lrs, lrs.info


@pytest.fixture(scope="session")
def rsa_key() -> tuple[str, Any]:
    """(PEM private key, public key) of an RSA key: a connected app's certificate, a JWT signer."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A command configures structlog to the runner's stderr, which is gone after the test."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
