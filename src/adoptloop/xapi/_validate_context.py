"""The context of a Statement for :mod:`adoptloop.xapi.validate` (xAPI Data 2.4.6), with the
xAPI 2.0.0 contextAgents and contextGroups.
"""

from __future__ import annotations

from typing import Literal

from adoptloop.xapi import _validate_parts as parts
from adoptloop.xapi._validate_activity import activity, statement_ref
from adoptloop.xapi._validate_parts import Report, child

# fmt: off
_CONTEXT_KEYS = frozenset({
    "registration", "instructor", "team", "contextActivities", "revision", "platform",
    "language", "statement", "extensions",
})
# fmt: on
_CONTEXT_KEYS_2_0 = _CONTEXT_KEYS | {"contextAgents", "contextGroups"}
_CONTEXT_ACTIVITY_KEYS = frozenset({"parent", "grouping", "category", "other"})
_CONTEXT_AGENT_KEYS = frozenset({"objectType", "agent", "relevantTypes"})
_CONTEXT_GROUP_KEYS = frozenset({"objectType", "group", "relevantTypes"})
_A = {"Agent": "an Agent", "Group": "a Group"}


def context(report: Report, value: object, path: str, object_type: str | None) -> None:
    obj = parts.expect_object(report, value, path, "the context")
    if obj is None:
        return
    allowed = _CONTEXT_KEYS_2_0 if report.version == "2.0.0" else _CONTEXT_KEYS
    props = parts.properties(report, obj, path, what="the context", allowed=allowed)
    if "registration" in props:
        parts.uuid(report, props["registration"], child(path, "registration"), "a registration")
    if "instructor" in props:
        parts.agent_or_group(
            report, props["instructor"], child(path, "instructor"), "the instructor"
        )
    if "team" in props:
        team_path = child(path, "team")
        if parts.agent_or_group(report, props["team"], team_path, "the team") == "Agent":
            report.add(
                team_path,
                "context.team-group",
                "context.team must be a Group (objectType 'Group'), not an Agent",
            )
    if "contextActivities" in props:
        _context_activities(report, props["contextActivities"], child(path, "contextActivities"))
    for key in ("revision", "platform"):
        if key not in props:
            continue
        parts.string(report, props[key], child(path, key), f"context.{key}")
        if object_type is not None and object_type != "Activity":
            report.add(
                child(path, key),
                f"context.{key}-requires-activity",
                f"context.{key} may only be used when the Statement's object is an Activity; "
                f"this object is {parts.show(object_type)}",
            )
    if "language" in props:
        parts.language_tag(report, props["language"], child(path, "language"), "context.language")
    if "statement" in props:
        _context_statement(report, props["statement"], child(path, "statement"))
    if "extensions" in props:
        parts.extensions(report, props["extensions"], child(path, "extensions"), "extensions")
    if "contextAgents" in props:
        _context_actors(report, props["contextAgents"], child(path, "contextAgents"), "Agent")
    if "contextGroups" in props:
        _context_actors(report, props["contextGroups"], child(path, "contextGroups"), "Group")


def _context_statement(report: Report, value: object, path: str) -> None:
    obj = parts.expect_object(report, value, path, "context.statement")
    if obj is None:
        return
    object_type = obj.get("objectType")
    if object_type is not None and object_type != "StatementRef":
        report.add(
            child(path, "objectType"),
            "context.statement-ref",
            f"context.statement must be a StatementRef (objectType 'StatementRef'), "
            f"not {parts.show(object_type)}",
        )
    statement_ref(report, obj, path, "context.statement")


def _context_activities(report: Report, value: object, path: str) -> None:
    what = "contextActivities"
    obj = parts.expect_object(report, value, path, what)
    if obj is None:
        return
    props = parts.properties(report, obj, path, what=what, allowed=_CONTEXT_ACTIVITY_KEYS)
    for key, activities in props.items():
        key_path = child(path, key)
        if isinstance(activities, list):
            for entry_path, entry in parts.items(report, activities, key_path, f"{what}.{key}"):
                entry_object = parts.expect_object(report, entry, entry_path, "a context Activity")
                if entry_object is not None:
                    activity(report, entry_object, entry_path, "a context Activity")
        elif isinstance(activities, dict):
            if report.version == "2.0.0":
                report.add(
                    key_path,
                    "context.context-activities-array",
                    f"{what}.{key} must be an array of Activity objects in xAPI 2.0.0 "
                    "(a single Activity object is only tolerated by 1.0.x)",
                )
            activity(report, activities, key_path, "a context Activity")
        else:
            report.add(
                key_path,
                "type.array",
                f"{what}.{key} must be an array of Activity objects, "
                f"not {parts.describe(activities)}",
            )


def _context_actors(
    report: Report, value: object, path: str, kind: Literal["Agent", "Group"]
) -> None:
    """xAPI 2.0.0 context.contextAgents (kind Agent) or context.contextGroups (kind Group)."""
    if kind == "Agent":
        name, member, object_type, rule = "contextAgents", "agent", "contextAgent", "context-agent"
    else:
        name, member, object_type, rule = "contextGroups", "group", "contextGroup", "context-group"
    entries = parts.array(report, value, path, f"context.{name}")
    for entry_path, entry in parts.items(report, entries or [], path, f"context.{name}"):
        obj = parts.expect_object(report, entry, entry_path, f"an entry of {name}")
        if obj is None:
            continue
        props = parts.properties(
            report,
            obj,
            entry_path,
            what=f"an entry of {name}",
            allowed=_CONTEXT_AGENT_KEYS if kind == "Agent" else _CONTEXT_GROUP_KEYS,
            required=("objectType", member),
        )
        if "objectType" in props and props["objectType"] != object_type:
            report.add(
                child(entry_path, "objectType"),
                f"context.{rule}-object-type",
                f"entries of {name} must have objectType {object_type!r} (case sensitive), "
                f"not {parts.show(props['objectType'])}",
            )
        if member in props:
            actor_path = child(entry_path, member)
            found = parts.agent_or_group(report, props[member], actor_path, f"the {member}")
            if found is not None and found != kind:
                report.add(
                    actor_path,
                    f"context.{rule}-kind",
                    f"the {member} of an entry of {name} must be {_A[kind]}, not {_A[found]}",
                )
        if "relevantTypes" in props:
            types_path = child(entry_path, "relevantTypes")
            types = parts.array(report, props["relevantTypes"], types_path, "relevantTypes")
            if types == []:
                report.add(
                    types_path,
                    "context.relevant-types-empty",
                    "relevantTypes must hold one or more IRIs when present (leave it out instead)",
                )
            for type_path, relevant in parts.items(
                report, types or [], types_path, "relevantTypes"
            ):
                parts.iri(report, relevant, type_path, "a relevant type")
