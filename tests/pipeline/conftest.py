"""Fixtures the pipeline's tests share: the demo project copied, and its run environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adoptloop.cli.common import load
from adoptloop.pipeline.run import Environment
from tests.support import copy_demo


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The demo project (config, exports, capability map) in a folder of the test's own."""
    return copy_demo(tmp_path)


@pytest.fixture
def env(demo: Path) -> Iterator[Environment]:
    """The demo's run environment (its store opened), disposed of after the test."""
    settings, registry = load(demo)
    opened = Environment.open(settings, registry)
    yield opened
    opened.engine.dispose()
