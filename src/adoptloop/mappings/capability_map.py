"""The capability map: the join between what the LMS teaches and what managers rate.

L&D edit it as YAML (see config/demo/capabilities.yaml):

    scales:
      five-point: {min: 1, max: 5}
    capabilities:
      - {id: objection-handling, name: Objection handling, threshold: 0.75}
    modules:
      MOD-OBJ-101: [objection-handling]
    coaching_items:
      Objection_Handling_Rating__c: {capability: objection-handling, scale: five-point}

A raw rating r on a scale [min, max] is scaled to (r - min) / (max - min) in [0, 1]; a
capability is proficient at scaled >= threshold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from adoptloop.domain import Rating
from adoptloop.fields import Frozen

# An id is a path segment of the capability's activity IRI ({namespace}/activities/capability/
# {id}) and the key of stored ratings: ASCII letters, digits, '_' and '-' are all unreserved in
# an IRI (RFC 3987), so the id goes into it as it is, never percent-encoded.
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid id: use letters, digits, '_' and '-', starting with a "
            "letter or digit, at most 64 (it becomes part of an IRI)"
        )
    return value


Slug = Annotated[str, AfterValidator(_slug)]


class Scale(Frozen):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be less than max ({self.max})")
        return self


class Capability(Frozen):
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    threshold: float = Field(ge=0, le=1, description="Scaled rating at or above = proficient")
    window_days: int | None = Field(
        default=None, ge=1, le=730, description="Adoption window; default adoption.window_days"
    )


class CoachingItem(Frozen):
    capability: Slug
    scale: str


# Cross-references are checked where they are written (pydantic gives these validators the
# fields validated so far in `info.data`), so a ConfigError points at the offending entry's
# line, e.g. `capabilities.yaml:21:17 modules.MOD-OBJ-101.0: unknown capability ...`, not at
# the top of the file. When `capabilities` or `scales` itself failed, the check is skipped:
# that error is reported on its own.


def _unique_ids(capabilities: list[Capability]) -> list[Capability]:
    ids = [c.id for c in capabilities]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"capability ids must be unique; repeated: {', '.join(duplicates)}")
    return capabilities


def _known_ids(info: ValidationInfo) -> list[str] | None:
    capabilities = info.data.get("capabilities")
    return None if capabilities is None else [c.id for c in capabilities]


def _known_capability(capability: str, info: ValidationInfo) -> str:
    known = _known_ids(info)
    if known is not None and capability not in known:
        raise ValueError(
            f"unknown capability {capability!r} (capabilities defined: {', '.join(known)})"
        )
    return capability


def _known_references(item: CoachingItem, info: ValidationInfo) -> CoachingItem:
    _known_capability(item.capability, info)
    scales = info.data.get("scales")
    if scales is not None and item.scale not in scales:
        raise ValueError(
            f"unknown scale {item.scale!r} (scales defined: {', '.join(sorted(scales))})"
        )
    return item


class CapabilityMapFile(Frozen):
    # Field order matters: modules and coaching_items are checked against the fields above.
    scales: dict[str, Scale]
    capabilities: Annotated[list[Capability], AfterValidator(_unique_ids)] = Field(min_length=1)
    modules: dict[str, list[Annotated[Slug, AfterValidator(_known_capability)]]] = Field(
        default_factory=dict
    )
    coaching_items: dict[str, Annotated[CoachingItem, AfterValidator(_known_references)]] = Field(
        default_factory=dict
    )


class OutOfScaleError(ValueError):
    """A raw rating outside its item's scale."""


class CapabilityMap:
    """Lookups over a validated capability map file."""

    def __init__(self, spec: CapabilityMapFile, *, default_window_days: int = 90) -> None:
        self.spec = spec
        self.default_window_days = default_window_days
        self.capabilities: Mapping[str, Capability] = {c.id: c for c in spec.capabilities}
        # what `mentions_capability` looks for in lowered text: each capability's name or its
        # id as words, as one pattern built once rather than lowered for every comment read
        self._mentions = re.compile(
            "|".join(
                re.escape(needle)
                for c in spec.capabilities
                for needle in (c.name.lower(), c.id.lower().replace("-", " ").replace("_", " "))
            )
        )

    def window_days(self, capability_id: str) -> int:
        days = self.capabilities[capability_id].window_days
        return self.default_window_days if days is None else days

    def capabilities_for_module(self, module_id: str) -> list[str]:
        return list(self.spec.modules.get(module_id, ()))

    def modules_for(self, capability_id: str) -> list[str]:
        return sorted(m for m, caps in self.spec.modules.items() if capability_id in caps)

    def is_mapped_item(self, item: str) -> bool:
        return item in self.spec.coaching_items

    def rate(self, item: str, raw: float) -> Rating:
        """The rating of `item`, scaled to 0..1: KeyError for an unmapped item, OutOfScaleError
        for a raw value off its scale. Connectors call this once per rating, at pull."""
        mapping = self.spec.coaching_items[item]
        scale = self.spec.scales[mapping.scale]
        if not scale.min <= raw <= scale.max:
            raise OutOfScaleError(
                f"rating {raw:g} for {item} is outside its scale {scale.min:g}..{scale.max:g}"
            )
        scaled = (raw - scale.min) / (scale.max - scale.min)
        return Rating(item, mapping.capability, raw, scale.min, scale.max, round(scaled, 4))

    def scales(self) -> dict[str, tuple[float, float]]:
        """item -> (min, max) of its scale, for every rated coaching item."""
        return {
            item: (self.spec.scales[m.scale].min, self.spec.scales[m.scale].max)
            for item, m in self.spec.coaching_items.items()
        }

    def mentions_capability(self, text: str) -> bool:
        lowered = text.lower()
        return self._mentions.search(lowered) is not None
