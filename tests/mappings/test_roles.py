"""The roles map: an HR role or job title -> rep / manager / director / other."""

from __future__ import annotations

from adoptloop.mappings.roles import DEFAULT_ROLE_MAP, RoleMap, unknown_role_reason


def test_the_default_map_keeps_the_demo_codes() -> None:
    roles = RoleMap()
    assert [roles.role(v) for v in ("rep", "kam", "msl")] == ["rep", "rep", "rep"]
    assert roles.role("first_line_manager") == "manager"
    assert roles.role("regional_director") == "director"
    assert roles.role("Sales Representative") is None


def test_titles_are_compared_trimmed_with_spaces_collapsed_and_case_insensitively() -> None:
    roles = RoleMap({"Sales Representative": "rep", "District  Manager": "manager"})
    assert roles.role("  sales representative ") == "rep"
    assert roles.role("DISTRICT MANAGER") == "manager"


def test_a_configured_map_replaces_the_default_but_canonical_names_map_to_themselves() -> None:
    roles = RoleMap({"Sales Representative": "rep"})
    assert roles.role("kam") is None
    assert [roles.role(r) for r in ("Rep", "manager", "director", "other")] == [
        "rep",
        "manager",
        "director",
        "other",
    ]


def test_the_digest_changes_with_the_map() -> None:
    assert RoleMap().digest == RoleMap(dict(DEFAULT_ROLE_MAP)).digest
    assert RoleMap().digest != RoleMap({"Sales Representative": "rep"}).digest


def test_the_reason_shows_the_value_s_shape_and_the_key_to_set() -> None:
    """Issue 15 point 2: a quarantine reason keeps no raw value (`validate` lists them)."""
    reason = unknown_role_reason("Field Medical Lead")
    assert "Field" not in reason
    assert "'aaaaa aaaaaaa aaaa'" in reason
    assert "roles.map" in reason
