"""Checks `adoptloop validate` runs on what the config points at, before anything is written.

- `check_inputs`: the pre-flight of every enabled source that reads local files (its encoding,
  header and date and number formats, read whole), as a run does before pulling anything.
- `check_roles`: every HR file's role values (`columns.role` of a `file-people` source) must be
  known to the `roles:` map; each unknown value is listed with its row count and first line,
  and the key to set. (An HR API's values are checked at pull instead: an unknown one
  quarantines its row.)
"""

from __future__ import annotations

from adoptloop.connectors.people import ListsRoleValues
from adoptloop.connectors.registry import Registry
from adoptloop.errors import ConfigError, FatalSyncError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.mappings.roles import ROLES
from adoptloop.pipeline.run import build_connectors
from adoptloop.settings.model import Settings


def check_inputs(settings: Settings, registry: Registry, capabilities: CapabilityMap) -> None:
    """ConfigError (exit 2) listing every source whose input cannot be read as configured."""
    problems: list[str] = []
    for connector in build_connectors(settings, registry, capabilities):
        if not connector.reads_local_files:
            continue  # a remote source is reached by `adoptloop check`, not by validate
        try:
            connector.preflight()
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems[0], problems=problems)


def check_roles(settings: Settings, registry: Registry, capabilities: CapabilityMap) -> None:
    """ConfigError (exit 2) listing every role value of the HR files the roles map lacks."""
    roles = settings.roles.role_map()
    problems: list[str] = []
    for connector in build_connectors(settings, registry, capabilities):
        name = connector.name
        if not isinstance(connector, ListsRoleValues):
            continue
        counts: dict[str, int] = {}
        first: dict[str, str] = {}
        try:
            for value, where in connector.role_values():
                if roles.role(value) is None:
                    counts[value] = counts.get(value, 0) + 1
                    first.setdefault(value, where)
        except ConfigError as exc:  # e.g. the role column is missing: the message says which
            problems += exc.problems
            continue
        except FatalSyncError as exc:
            problems.append(f"sources.{name}: {exc}")
            continue
        problems += [
            f"sources.{name} {first[value]}: role {value!r} ({n} row{'s' if n != 1 else ''}) "
            f"is not in the roles map; add it under roles.map in {settings.config_path.name} "
            f"as one of {', '.join(ROLES)}"
            for value, n in counts.items()
        ]
    if problems:
        raise ConfigError(problems[0], problems=problems)
