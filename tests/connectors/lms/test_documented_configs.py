"""The LMS examples of docs/connectors.md are valid configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.connectors.hris.test_documented_configs import EXAMPLES, validate_example

LMS = ("moodle", "successfactors", "cornerstone", "docebo")


@pytest.mark.parametrize("kind", LMS)
def test_documented_lms_example_is_valid_configuration(kind: str, tmp_path: Path) -> None:
    [example] = [e for e in EXAMPLES if f"type: {kind}\n" in e]
    config = validate_example(example, tmp_path)
    assert config.type == kind
