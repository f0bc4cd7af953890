"""Connectors are found through the `adoptloop.connectors` entry-point group.

A third party ships a package declaring

    [project.entry-points."adoptloop.connectors"]
    my-lms = "my_package.connector:MyLmsConnector"

and `type: my-lms` becomes valid in the YAML. Nothing is loaded at import time: a registry
is built when needed and passed to whoever needs it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.errors import ConfigError

GROUP = "adoptloop.connectors"

AnyConnector = Connector[Any]


class Registry:
    """Connector classes by their `type:` name."""

    def __init__(self, classes: Iterable[type[AnyConnector]]) -> None:
        self._by_type: dict[str, type[AnyConnector]] = {}
        for cls in classes:
            if cls.type_name in self._by_type:
                raise ConfigError(f"two connectors claim type {cls.type_name!r}")
            self._by_type[cls.type_name] = cls

    @classmethod
    def from_entry_points(cls, types: Collection[str] | None = None) -> Registry:
        """The installed connectors; with `types`, only the entry points of those connector
        types are loaded (importing a connector imports its HTTP and vendor libraries), or
        every one when `types` is empty or names one that is not installed."""
        found = sorted(entry_points(group=GROUP), key=lambda e: e.name)
        if types and set(types) <= {ep.name for ep in found}:
            found = [ep for ep in found if ep.name in types]
        loaded: list[type[AnyConnector]] = []
        for ep in found:
            obj = ep.load()
            if not (isinstance(obj, type) and issubclass(obj, Connector)):
                raise ConfigError(f"entry point {ep.name} = {ep.value} is not a Connector class")
            if obj.type_name != ep.name:
                raise ConfigError(
                    f"entry point {ep.name} loads a connector of type {obj.type_name!r}; "
                    "the entry-point name must equal the connector's type_name"
                )
            loaded.append(obj)
        return cls(loaded)

    @property
    def types(self) -> Mapping[str, type[AnyConnector]]:
        return dict(self._by_type)

    def config_classes(self) -> list[type[ConnectorConfig]]:
        return [c.config_class for c in self._by_type.values()]

    def build(self, name: str, config: ConnectorConfig, context: ConnectorContext) -> AnyConnector:
        cls = self._by_type.get(config.type)
        if cls is None:
            known = ", ".join(sorted(self._by_type))
            raise ConfigError(f"sources.{name}.type: unknown connector {config.type!r} ({known})")
        return cls(config, context)
