"""The capability map file (edited by L&D) -> a validated CapabilityMap."""

from __future__ import annotations

from pathlib import Path

from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile
from adoptloop.settings.located import validate_located
from adoptloop.settings.yaml import load_located


def load_capability_map(path: Path, *, default_window_days: int = 90) -> CapabilityMap:
    """Read and validate a capability map; errors are located (`capabilities.yaml:21:17 ...`)."""
    spec = validate_located(CapabilityMapFile, load_located(path))
    return CapabilityMap(spec, default_window_days=default_window_days)
