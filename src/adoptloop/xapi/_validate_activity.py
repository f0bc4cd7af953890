"""Activities for :mod:`adoptloop.xapi.validate`: Activity objects, their definitions and
interaction components, and StatementRefs (xAPI Data 2.4.4.1 and 2.4.4.3).
"""

from __future__ import annotations

from adoptloop.xapi import _validate_parts as parts
from adoptloop.xapi._validate_parts import Report, child

_ACTIVITY_KEYS = frozenset({"objectType", "id", "definition"})
_STATEMENT_REF_KEYS = frozenset({"objectType", "id"})
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
# fmt: off
_DEFINITION_KEYS = frozenset({
    "name", "description", "type", "moreInfo", "extensions", "interactionType",
    "correctResponsesPattern", *COMPONENT_LISTS,
})
# fmt: on
_COMPONENT_KEYS = frozenset({"id", "description"})
# Which interaction component lists each interactionType supports (2.4.4.1, Interaction Components).
_LISTS_FOR_INTERACTION: dict[str, frozenset[str]] = {
    "true-false": frozenset(),
    "choice": frozenset({"choices"}),
    "fill-in": frozenset(),
    "long-fill-in": frozenset(),
    "matching": frozenset({"source", "target"}),
    "performance": frozenset({"steps"}),
    "sequencing": frozenset({"choices"}),
    "likert": frozenset({"scale"}),
    "numeric": frozenset(),
    "other": frozenset(),
}


def statement_ref(report: Report, obj: dict[object, object], path: str, what: str) -> None:
    props = parts.properties(
        report, obj, path, what=what, allowed=_STATEMENT_REF_KEYS, required=("objectType", "id")
    )
    if "id" in props:
        parts.uuid(report, props["id"], child(path, "id"), "a StatementRef id")


def activity(report: Report, obj: dict[object, object], path: str, what: str) -> None:
    props = parts.properties(report, obj, path, what=what, allowed=_ACTIVITY_KEYS, required=("id",))
    object_type = props.get("objectType", "Activity")
    if object_type != "Activity":
        report.add(
            child(path, "objectType"),
            "activity.object-type",
            f"{what} must have objectType 'Activity' when present, not {parts.show(object_type)}",
        )
    if "id" in props:
        parts.iri(report, props["id"], child(path, "id"), "an Activity id")
    if "definition" in props:
        _definition(report, props["definition"], child(path, "definition"))


def _definition(report: Report, value: object, path: str) -> None:
    what = "an Activity definition"
    obj = parts.expect_object(report, value, path, what)
    if obj is None:
        return
    props = parts.properties(report, obj, path, what=what, allowed=_DEFINITION_KEYS)
    for key in ("name", "description"):
        if key in props:
            parts.language_map(report, props[key], child(path, key), f"an Activity's {key}")
    if "type" in props:
        parts.iri(report, props["type"], child(path, "type"), "an Activity type")
    if "moreInfo" in props:
        parts.irl(report, props["moreInfo"], child(path, "moreInfo"), "an Activity's moreInfo")
    if "extensions" in props:
        parts.extensions(report, props["extensions"], child(path, "extensions"), "extensions")
    _interaction(report, obj, props, path)


def _interaction(
    report: Report, obj: dict[object, object], props: dict[str, object], path: str
) -> None:
    """interactionType, correctResponsesPattern and the interaction component lists."""
    supported: frozenset[str] | None = None  # None: unknown, so lists are not cross-checked
    if "interactionType" in props:
        type_path = child(path, "interactionType")
        interaction = parts.string(report, props["interactionType"], type_path, "interactionType")
        if interaction is not None and interaction not in _LISTS_FOR_INTERACTION:
            report.add(
                type_path,
                "activity.interaction-type",
                "interactionType must be one of "
                f"{', '.join(_LISTS_FOR_INTERACTION)} (case sensitive), not {parts.show(interaction)}",
            )
        elif interaction is not None:
            supported = _LISTS_FOR_INTERACTION[interaction]
    interaction_keys = [k for k in ("correctResponsesPattern", *COMPONENT_LISTS) if k in obj]
    if interaction_keys and "interactionType" not in obj:
        report.add(
            child(path, "interactionType"),
            "activity.interaction-type-required",
            f"an Activity definition with {', '.join(interaction_keys)} is an interaction "
            "Activity, so it must have an interactionType",
        )
    if "correctResponsesPattern" in props:
        pattern_path = child(path, "correctResponsesPattern")
        patterns = parts.array(
            report, props["correctResponsesPattern"], pattern_path, "correctResponsesPattern"
        )
        for entry_path, entry in parts.items(
            report, patterns or [], pattern_path, "correctResponsesPattern"
        ):
            parts.string(report, entry, entry_path, "a correct response pattern")
    for key in COMPONENT_LISTS:
        if key not in props:
            continue
        list_path = child(path, key)
        if supported is not None and key not in supported:
            allowed = ", ".join(
                name for name, lists in _LISTS_FOR_INTERACTION.items() if key in lists
            )
            report.add(
                list_path,
                "activity.component-list",
                f"the component list {key!r} is only valid for interactionType {allowed}, "
                f"not {parts.show(props['interactionType'])}",
            )
        _components(report, props[key], list_path, key)


def _components(report: Report, value: object, path: str, key: str) -> None:
    components = parts.array(report, value, path, f"the component list {key!r}")
    seen: set[str] = set()
    for entry_path, entry in parts.items(report, components or [], path, f"{key!r}"):
        obj = parts.expect_object(report, entry, entry_path, "an interaction component")
        if obj is None:
            continue
        props = parts.properties(
            report,
            obj,
            entry_path,
            what="an interaction component",
            allowed=_COMPONENT_KEYS,
            required=("id",),
        )
        if "description" in props:
            parts.language_map(
                report,
                props["description"],
                child(entry_path, "description"),
                "a component's description",
            )
        if "id" not in props:
            continue
        id_path = child(entry_path, "id")
        component_id = parts.string(report, props["id"], id_path, "an interaction component id")
        if component_id is None:
            continue
        if component_id in seen:
            report.add(
                id_path,
                "activity.component-id-duplicate",
                f"ids within {key!r} must be distinct; {parts.show(component_id)} is repeated",
            )
        seen.add(component_id)
