"""Tests for the capability map (adoptloop.mappings.capability_map).

The map is YAML edited by L&D, so every mistake must come back as a ConfigError that says
where (`file:line:column`) and how to fix it.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from adoptloop.errors import ConfigError
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile, OutOfScaleError
from adoptloop.settings.capabilities import load_capability_map

DEMO_CAPABILITIES = Path(__file__).parents[2] / "config" / "demo" / "capabilities.yaml"

_VALID = """\
scales:
  five-point: {min: 1, max: 5}
  ten-point: {min: 0, max: 10}
capabilities:
  - {id: opening, name: Opening the call, threshold: 0.75}
  - {id: objection-handling, name: Objection handling, threshold: 0.6, window_days: 60}
modules:
  MOD-OPEN-101: [opening]
  MOD-MIX-201: [opening, objection-handling]
coaching_items:
  Opening_Rating__c: {capability: opening, scale: five-point}
  Q7: {capability: objection-handling, scale: ten-point}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "capabilities.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    """1-based number of the only line of `path` containing `needle`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(lines, start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def _config_error(path: Path, **kwargs: int) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_capability_map(path, **kwargs)
    return caught.value


@pytest.fixture
def capabilities(tmp_path: Path) -> CapabilityMap:
    return load_capability_map(_write(tmp_path, _VALID))


# --------------------------------------------------------------------------- scaling


@pytest.mark.parametrize(("raw", "scaled"), [(1, 0.0), (2, 0.25), (3, 0.5), (4, 0.75), (5, 1.0)])
def test_five_point_rating_scales_to_0_1(
    capabilities: CapabilityMap, raw: float, scaled: float
) -> None:
    rated = capabilities.rate("Opening_Rating__c", raw)
    assert rated.scaled == scaled
    assert rated.capability_id == "opening"
    assert (rated.scale_min, rated.scale_max) == (1, 5)


def test_rating_on_a_scale_starting_at_zero(capabilities: CapabilityMap) -> None:
    assert capabilities.rate("Q7", 0).scaled == 0.0
    assert capabilities.rate("Q7", 7).scaled == 0.7
    assert capabilities.rate("Q7", 10).scaled == 1.0


@pytest.mark.parametrize("raw", [0, 0.999, 5.001, 6, -1, math.nan, math.inf])
def test_rating_outside_its_scale_raises_out_of_scale(
    capabilities: CapabilityMap, raw: float
) -> None:
    with pytest.raises(OutOfScaleError, match=r"Opening_Rating__c is outside its scale 1\.\.5"):
        capabilities.rate("Opening_Rating__c", raw)


def test_out_of_scale_is_a_value_error_for_callers_that_quarantine() -> None:
    assert issubclass(OutOfScaleError, ValueError)


def test_rating_an_unmapped_item_raises_key_error(capabilities: CapabilityMap) -> None:
    assert not capabilities.is_mapped_item("Comments__c")
    with pytest.raises(KeyError):
        capabilities.rate("Comments__c", 3)


@given(raw=st.floats(1, 5))
def test_any_rating_within_the_scale_scales_into_0_1_monotonically(raw: float) -> None:
    capabilities = load_capability_map(DEMO_CAPABILITIES)
    scaled = capabilities.rate("Opening_Rating__c", raw).scaled
    assert 0.0 <= scaled <= 1.0
    assert scaled == round((raw - 1) / 4, 4)


# --------------------------------------------------------------------------- lookups


def test_window_days_is_the_capability_override_or_the_default(tmp_path: Path) -> None:
    path = _write(tmp_path, _VALID)
    assert load_capability_map(path).window_days("opening") == 90
    assert load_capability_map(path).window_days("objection-handling") == 60
    longer = load_capability_map(path, default_window_days=120)
    assert longer.window_days("opening") == 120
    assert longer.window_days("objection-handling") == 60


def test_module_and_capability_lookups(capabilities: CapabilityMap) -> None:
    assert capabilities.capabilities_for_module("MOD-MIX-201") == ["opening", "objection-handling"]
    assert capabilities.capabilities_for_module("MOD-UNKNOWN") == []
    assert capabilities.modules_for("opening") == ["MOD-MIX-201", "MOD-OPEN-101"]
    assert capabilities.modules_for("objection-handling") == ["MOD-MIX-201"]


def test_demo_map_loads() -> None:
    demo = load_capability_map(DEMO_CAPABILITIES)
    assert demo.window_days("compliant-promotion") == 60
    assert demo.rate("Objection_Handling_Rating__c", 4).scaled == 0.75


# --------------------------------------------------------------------------- config errors


def test_unknown_capability_in_modules_is_located_at_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        scales:
          five-point: {min: 1, max: 5}
        capabilities:
          - {id: opening, name: Opening the call, threshold: 0.75}
        modules:
          MOD-OPEN-101: [opening]
          MOD-CLOSE-101: [closing]
        """,
    )
    error = _config_error(path)
    line = _line_of(path, "MOD-CLOSE-101")
    assert str(error).startswith(f"{path}:{line}:")
    assert "modules.MOD-CLOSE-101" in str(error)
    assert "unknown capability 'closing'" in str(error)
    assert "opening" in str(error).split("unknown capability")[1]  # names what is defined
    assert error.exit_code == 2


def test_unknown_capability_in_coaching_items_is_located_at_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        scales:
          five-point: {min: 1, max: 5}
        capabilities:
          - {id: opening, name: Opening the call, threshold: 0.75}
        coaching_items:
          Opening_Rating__c: {capability: opening, scale: five-point}
          Closing_Rating__c: {capability: closing, scale: five-point}
        """,
    )
    error = _config_error(path)
    assert str(error).startswith(f"{path}:{_line_of(path, 'Closing_Rating__c')}:")
    assert "coaching_items.Closing_Rating__c" in str(error)
    assert "unknown capability 'closing'" in str(error)


def test_unknown_scale_in_coaching_items_is_located_at_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        scales:
          five-point: {min: 1, max: 5}
        capabilities:
          - {id: opening, name: Opening the call, threshold: 0.75}
        coaching_items:
          Opening_Rating__c: {capability: opening, scale: seven-point}
        """,
    )
    error = _config_error(path)
    assert str(error).startswith(f"{path}:{_line_of(path, 'Opening_Rating__c')}:")
    assert "unknown scale 'seven-point' (scales defined: five-point)" in str(error)


def test_duplicate_capability_ids_are_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        scales:
          five-point: {min: 1, max: 5}
        capabilities:
          - {id: opening, name: Opening the call, threshold: 0.75}
          - {id: closing, name: Closing, threshold: 0.75}
          - {id: opening, name: Opening again, threshold: 0.5}
        """,
    )
    error = _config_error(path)
    assert str(error).startswith(f"{path}:{_line_of(path, 'capabilities:')}:")
    assert "capability ids must be unique; repeated: opening" in str(error)


@pytest.mark.parametrize(
    "bad_id", ["opening call", "-opening", "_opening", "é", "opening/call", "o" * 65]
)
def test_invalid_capability_id_is_rejected_with_a_hint(tmp_path: Path, bad_id: str) -> None:
    path = _write(
        tmp_path,
        f"""\
        scales:
          five-point: {{min: 1, max: 5}}
        capabilities:
          - {{id: "{bad_id}", name: Opening the call, threshold: 0.75}}
        """,
    )
    error = _config_error(path)
    assert str(error).startswith(f"{path}:{_line_of(path, 'id:')}:")
    assert "capabilities.0.id" in str(error)
    assert f"{bad_id!r} is not a valid id" in str(error)
    assert "letters, digits, '_' and '-'" in str(error)


@pytest.mark.parametrize("good_id", ["opening_call", "Opening-Call_2", "2nd_visit", "o" * 64])
def test_capability_ids_of_letters_digits_underscore_and_hyphen_are_accepted(
    tmp_path: Path, good_id: str
) -> None:
    """Issue 16, point 2 (inputs): capability ids with '_' (and letters of either case) are
    accepted; before, anything but lower-case letters, digits and '-' was refused."""
    path = _write(
        tmp_path,
        f"""\
        scales:
          five-point: {{min: 1, max: 5}}
        capabilities:
          - {{id: "{good_id}", name: Opening the call, threshold: 0.75}}
        modules:
          MOD-1: ["{good_id}"]
        coaching_items:
          Opening_Rating__c: {{capability: "{good_id}", scale: five-point}}
        """,
    )
    loaded = load_capability_map(path)
    assert list(loaded.capabilities) == [good_id]
    assert loaded.rate("Opening_Rating__c", 4).capability_id == good_id


@pytest.mark.parametrize(("low", "high"), [(5, 1), (3, 3)])
def test_scale_min_not_below_max_is_rejected(tmp_path: Path, low: int, high: int) -> None:
    path = _write(
        tmp_path,
        f"""\
        scales:
          broken: {{min: {low}, max: {high}}}
        capabilities:
          - {{id: opening, name: Opening the call, threshold: 0.75}}
        """,
    )
    error = _config_error(path)
    assert str(error).startswith(f"{path}:{_line_of(path, 'broken:')}:")
    assert "must be less than max" in str(error)


@pytest.mark.parametrize(
    ("field", "value"), [("threshold", "1.5"), ("threshold", "-0.1"), ("window_days", "0")]
)
def test_out_of_range_capability_fields_are_rejected(
    tmp_path: Path, field: str, value: str
) -> None:
    fields = {"threshold": "0.75", "window_days": "90"} | {field: value}
    path = _write(
        tmp_path,
        f"""\
        scales:
          five-point: {{min: 1, max: 5}}
        capabilities:
          - id: opening
            name: Opening the call
            threshold: {fields["threshold"]}
            window_days: {fields["window_days"]}
        """,
    )
    error = _config_error(path)
    assert str(error).startswith(f"{path}:{_line_of(path, f'{field}:')}:")


def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    path = _write(tmp_path, _VALID.replace("threshold: 0.6", "treshold: 0.6"))
    error = _config_error(path)
    assert "did you mean 'threshold'" in str(error)


def test_references_are_checked_without_yaml_too() -> None:
    with pytest.raises(ValidationError, match="unknown capability 'closing'"):
        CapabilityMapFile.model_validate(
            {
                "scales": {"five": {"min": 1, "max": 5}},
                "capabilities": [{"id": "opening", "name": "Opening", "threshold": 0.75}],
                "modules": {"MOD-1": ["closing"]},
            }
        )
