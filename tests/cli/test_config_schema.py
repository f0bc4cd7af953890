"""The committed JSON Schema (config/adoptloop.schema.json) matches the code and the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from adoptloop.cli.setup import render_schema
from adoptloop.connectors.registry import Registry
from tests.support import DEMO_CONFIG, REPO

SCHEMA = REPO / "config" / "adoptloop.schema.json"
REGENERATE = "regenerate with `adoptloop config schema --out config/adoptloop.schema.json`"


def _committed() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return schema


def _ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return target


EXAMPLES = [
    DEMO_CONFIG,
    REPO / "config" / "veeva.example.yaml",
    REPO / "src" / "adoptloop" / "templates" / "adoptloop.yaml",
]


def _as_an_editor_sees_it(path: Path) -> dict[str, Any]:
    """A config as plain YAML; dates become strings, as they are in JSON."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain


def _problems(config: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(_committed())
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(config)]


def test_committed_schema_matches_the_code() -> None:
    expected = render_schema(Registry.from_entry_points())

    assert SCHEMA.read_text(encoding="utf-8") == expected, f"{SCHEMA} is stale; {REGENERATE}"


def test_committed_schema_has_no_machine_specific_defaults() -> None:
    text = SCHEMA.read_text(encoding="utf-8")

    assert str(REPO) not in text
    assert _committed()["properties"]["store"]["default"] == {"url": "sqlite:///state/adoptloop.db"}
    assert _committed()["properties"]["adoption"]["default"]["output_dir"] == "out"


def test_demo_config_keys_are_all_in_the_committed_schema() -> None:
    schema = _committed()
    demo = _as_an_editor_sees_it(DEMO_CONFIG)

    assert schema["additionalProperties"] is False
    assert set(demo) <= set(schema["properties"])
    assert set(schema["required"]) <= set(demo)
    for section in ("store", "xapi", "delivery", "adoption"):
        assert set(demo[section]) <= set(_ref(schema, schema["properties"][section])["properties"])
    union = schema["properties"]["sources"]["additionalProperties"]
    for name, source in demo["sources"].items():
        config = _ref(schema, {"$ref": union["discriminator"]["mapping"][source["type"]]})
        assert set(source) <= set(config["properties"]), name
        assert set(config.get("required", [])) <= set(source), name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_configs_validate_against_the_committed_schema(path: Path) -> None:
    assert _problems(_as_an_editor_sees_it(path)) == [], f"{path} does not satisfy {SCHEMA}"


def test_the_schema_refuses_a_misspelt_key_and_an_unknown_connector() -> None:
    demo = _as_an_editor_sees_it(DEMO_CONFIG)
    demo["adoption"]["windw_days"] = 90
    demo["sources"]["crm"]["type"] = "file-coachin"

    problems = _problems(demo)

    assert any("windw_days" in p for p in problems)
    assert any(p.startswith("sources.crm") for p in problems)
