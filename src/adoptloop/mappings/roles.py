"""Roles: an HR role or job title -> rep / manager / director / other (pure: no store, no I/O).

The HR connectors put whatever the HRIS says into `Person.role` (a role code or a job title,
as `columns.role` / `fields.role` of the source picks it); the pull stage maps it once through
a `RoleMap` and the store keeps the canonical role only. Values are compared trimmed, with
inner spaces collapsed and case-insensitively. The four canonical names always map to
themselves, so an HR column that already says `rep` / `manager` needs no map.

Without a `roles:` section the default map keeps the codes adoptloop has always known (the
demo's): rep, kam and msl are field reps, first_line_manager a manager, regional_director a
director. Any other value is unknown: `adoptloop validate` lists it (exit 2) and at run time its
HR row is quarantined, naming the value and `roles.map`; it never silently counts as nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import get_args

from adoptloop.domain import Role, shown

ROLES: tuple[Role, ...] = get_args(Role)
FIELD_ROLE: Role = "rep"  # the only field role: adoption cohorts and coaching metrics
MANAGER_ROLE: Role = "manager"  # first-line managers (coach-the-coach)

DEFAULT_ROLE_MAP: Mapping[str, Role] = {
    "kam": "rep",
    "msl": "rep",
    "first_line_manager": "manager",
    "regional_director": "director",
}


def role_key(value: str) -> str:
    """How a role or title is compared: trimmed, inner spaces collapsed, case-folded."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class RoleMap:
    """HR value -> canonical role; `role` answers None for a value the map does not know."""

    mapping: Mapping[str, Role] = field(default_factory=lambda: dict(DEFAULT_ROLE_MAP))
    column: str | None = None  # the HR files' column it reads (None: each file's columns.role)

    def __post_init__(self) -> None:
        keyed: dict[str, Role] = {r: r for r in ROLES}
        keyed.update({role_key(k): v for k, v in self.mapping.items()})
        object.__setattr__(self, "mapping", keyed)

    def role(self, value: str) -> Role | None:
        return self.mapping.get(role_key(value))

    @property
    def digest(self) -> str:
        """Changes whenever the map does: the HR sources are then re-read whole."""
        text = "\n".join(f"{k}\t{v}" for k, v in sorted(self.mapping.items()))
        if self.column is not None:  # another column: other values (the default keeps digests)
            text += f"\ncolumn\t{self.column}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def unknown_role_reason(value: str) -> str:
    """The quarantine reason for a value the map does not know: its shape, not the value
    (`validate` lists the values themselves)."""
    return (
        f"role {shown(value)} is not in the roles map; add it under roles.map "
        f"(as one of {', '.join(ROLES)})"
    )
