"""Fixtures for the bench helpers' tests: the store tests' PostgreSQL database per test."""

from __future__ import annotations

from tests.store.conftest import _fresh_logging, postgres_server, postgres_url

__all__ = ["_fresh_logging", "postgres_server", "postgres_url"]
