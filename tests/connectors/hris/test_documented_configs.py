"""The HRIS examples of docs/connectors.md are valid configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Union

import pytest
from pydantic import BaseModel, Field, create_model

from adoptloop.connectors.base import ConnectorConfig
from adoptloop.connectors.registry import Registry
from adoptloop.settings.located import validate_located
from adoptloop.settings.yaml import load_located
from tests.support import REPO

DOC = REPO / "docs" / "connectors.md"
EXAMPLES = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
HRIS = ("scim", "workday", "bamboohr")


def validate_example(example: str, folder: Path) -> ConnectorConfig:
    """Validate one `sources:` example as adoptloop reads YAML: located, secrets resolved."""
    classes = tuple(Registry.from_entry_points().config_classes())
    union: Any = Annotated[Union[classes], Field(discriminator="type")]  # noqa: UP007
    model: type[BaseModel] = create_model("Sources", sources=(dict[str, union], ...))
    path = folder / "example.yaml"
    path.write_text(example, encoding="utf-8")
    names = set(re.findall(r"\$\{([A-Z_]+)\}", example))
    located = load_located(path, environ=dict.fromkeys(names, "from-the-environment"))
    sources = getattr(validate_located(model, located), "sources")  # noqa: B009
    [config] = sources.values()
    assert isinstance(config, ConnectorConfig)
    return config


@pytest.mark.parametrize("kind", HRIS)
def test_documented_hris_example_is_valid_configuration(kind: str, tmp_path: Path) -> None:
    [example] = [e for e in EXAMPLES if f"type: {kind}\n" in e]
    config = validate_example(example, tmp_path)
    assert config.type == kind
