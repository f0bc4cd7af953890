"""Helpers for the file connectors' tests: write a drop, build a connector, read a stream."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from adoptloop.connectors.base import Connector, ConnectorConfig, ConnectorContext
from adoptloop.domain import Checkpoint, Item
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile

RUN_DATE = date(2026, 6, 30)

CAPABILITIES = CapabilityMap(
    CapabilityMapFile.model_validate(
        {
            "scales": {"five": {"min": 1, "max": 5}},
            "capabilities": [
                {"id": "opening", "name": "Opening the call", "threshold": 0.75},
                {"id": "closing", "name": "Closing", "threshold": 0.75},
            ],
            "coaching_items": {
                "Opening_Rating__c": {"capability": "opening", "scale": "five"},
                "Closing_Rating__c": {"capability": "closing", "scale": "five"},
            },
        }
    )
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def build(cls: type[Connector[Any]], folder: Path, **config: Any) -> Connector[Any]:
    settings: ConnectorConfig = cls.config_class.model_validate(
        config, context={"base_dir": folder}
    )
    return cls(settings, ConnectorContext("src", folder, CAPABILITIES, RUN_DATE))


def read(connector: Connector[Any], stream: str, cursor: str | None = None) -> list[Item]:
    return list(connector.read(stream, cursor))


def cursor_of(items: list[Item]) -> str:
    (checkpoint,) = [i for i in items if isinstance(i, Checkpoint)]
    return checkpoint.cursor
