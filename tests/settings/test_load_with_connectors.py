"""A command loads only the connectors its configuration names (settings.model.load_with_connectors):
the same settings as against every installed connector, and a configuration that does not
validate is reported exactly as it is against every installed connector."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adoptloop.connectors.registry import Registry
from adoptloop.errors import ConfigError
from adoptloop.settings.model import load_settings, load_with_connectors

DEMO_TYPES = {"file-people", "file-completions", "file-coaching"}


def test_only_the_configured_connector_types_are_loaded_and_the_settings_are_the_same(
    demo_config: Path,
) -> None:
    settings, registry = load_with_connectors(demo_config)

    assert set(registry.types) == DEMO_TYPES
    whole = load_settings(demo_config, Registry.from_entry_points())
    assert settings.model_dump() == whole.model_dump()
    assert settings.config_path == whole.config_path
    assert len(Registry.from_entry_points().types) > len(DEMO_TYPES)


def test_a_run_process_imports_no_connector_it_does_not_use(demo_config: Path) -> None:
    probe = (
        "import sys; from pathlib import Path; from adoptloop.cli.common import load; "
        f"load(Path({str(demo_config)!r})); "
        "print(sorted(m for m in sys.modules if m.startswith('adoptloop.connectors.') "
        "and m.count('.') >= 3 and not m.startswith('adoptloop.connectors.files')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout.strip() == "[]"  # no scim, moodle, salesforce, vault, ...


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("type: file-people", "type: file-peopel"),  # a type no connector has
        ("type: file-people", "type: scim"),  # another installed connector's type
        ("    path: demo/hris/people.csv", "    paht: demo/hris/people.csv"),  # a field typo
    ],
    ids=["unknown type", "other type", "field typo"],
)
def test_a_configuration_that_does_not_validate_is_reported_as_with_every_connector(
    demo_config: Path, old: str, new: str
) -> None:
    text = demo_config.read_text(encoding="utf-8")
    assert old in text
    demo_config.write_text(text.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(ConfigError) as whole:
        load_settings(demo_config, Registry.from_entry_points())
    with pytest.raises(ConfigError) as lean:
        load_with_connectors(demo_config)

    assert lean.value.problems == whole.value.problems


def test_a_configuration_of_one_connector_type_is_reported_as_with_every_connector(
    demo_config: Path,
) -> None:
    """One type: its settings model is that type's config, not a discriminated union."""
    text = demo_config.read_text(encoding="utf-8")
    only_hris = text[: text.index("  lms:\n")] + text[text.index("# The demo's HR file") :]
    demo_config.write_text(only_hris.replace("    path: demo/hris", "    paht: demo/hris"))

    with pytest.raises(ConfigError) as whole:
        load_settings(demo_config, Registry.from_entry_points())
    with pytest.raises(ConfigError) as lean:
        load_with_connectors(demo_config)

    assert lean.value.problems == whole.value.problems
    assert "sources.hris.paht: unknown field (did you mean 'path')" in lean.value.problems[0]


def test_a_registry_asked_for_a_type_not_installed_loads_every_connector() -> None:
    everything = set(Registry.from_entry_points().types)

    assert set(Registry.from_entry_points(["file-people", "no-such-type"]).types) == everything
    assert set(Registry.from_entry_points([]).types) == everything
    assert set(Registry.from_entry_points(["file-people"]).types) == {"file-people"}
