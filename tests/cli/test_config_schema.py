"""The committed JSON Schema (config/adoptloop.schema.json) matches the code and the demo."""

from __future__ import annotations

import importlib
import importlib.util
import json
from typing import Any

import yaml

from adoptloop.cli.setup import render_schema
from adoptloop.connectors.registry import Registry
from tests.support import DEMO_CONFIG, REPO

SCHEMA = REPO / "config" / "adoptloop.schema.json"
REGENERATE = "regenerate with `adoptloop config schema --out config/adoptloop.schema.json`"


def _committed() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return schema


def _demo_as_an_editor_sees_it() -> dict[str, Any]:
    """demo.yaml as plain YAML; dates become strings, as they are in JSON."""
    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain


def _ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return target


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
    demo = _demo_as_an_editor_sees_it()

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


def test_demo_config_validates_against_the_committed_schema() -> None:
    demo = _demo_as_an_editor_sees_it()
    schema = _committed()
    if importlib.util.find_spec("jsonschema") is None:
        # jsonschema is not a dependency; without it, check the shape the schema promises.
        union = schema["properties"]["sources"]["additionalProperties"]
        assert {s["type"] for s in demo["sources"].values()} <= set(
            union["discriminator"]["mapping"]
        )
        assert (
            demo["delivery"]["target"]
            in _ref(schema, schema["properties"]["delivery"])["properties"]["target"]["enum"]
        )
        return
    jsonschema = importlib.import_module("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    problems = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(demo)]

    assert problems == [], f"demo.yaml does not satisfy {SCHEMA}: {problems}; {REGENERATE}"
