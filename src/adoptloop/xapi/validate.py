r"""Strict validation of xAPI Statements against the Data section of the xAPI specification.

Written from the xAPI 1.0.3 specification, Part Two ("Data"), with xAPI 2.0.0 selectable.
Validation is structural: it needs no LRS and no network, and it reports *every* problem it
finds, each with a JSON path (``$.object.definition.choices[2].id``), a stable rule code
(``activity.component-id-duplicate``) and a sentence saying what is wrong and what is allowed.

    >>> from adoptloop.xapi.validate import validate_statement
    >>> print(*validate_statement({"actor": {"mbox": "mailto:a@example.com"}}), sep="\n")
    $.verb: a Statement must have "verb" [required-property]
    $.object: a Statement must have "object" [required-property]

What the two versions change:

* ``1.0.3``: timestamps are ISO 8601 extended date-times; a contextActivities value may be a
  single Activity object (allowed by the spec for 0.95 compatibility, though an array is
  recommended); ``version`` must start with ``1.0.``.
* ``2.0.0``: timestamps are RFC 3339 date-times; contextActivities values must be arrays;
  ``context.contextAgents`` and ``context.contextGroups`` are allowed; ``version`` must start
  with ``2.0.``.

Both versions require a time zone in timestamps and reject the ``-00:00`` offset, reject unknown
properties everywhere (rule ``unknown-property``) and reject null everywhere except inside
extension values (rule ``null-value``). This module walks the Statement, its object, result
and attachments; Activities live in :mod:`adoptloop.xapi._validate_activity`, the context in
:mod:`adoptloop.xapi._validate_context`, Agents, Groups and the special data types in
:mod:`adoptloop.xapi._validate_parts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adoptloop.xapi import _validate_fast
from adoptloop.xapi import _validate_parts as parts
from adoptloop.xapi._validate_activity import activity, statement_ref
from adoptloop.xapi._validate_context import context
from adoptloop.xapi._validate_parts import Report, XAPIVersion, child

__all__ = ["Problem", "XAPIVersion", "is_valid", "validate_statement"]

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
SIGNATURE_USAGE_TYPE = "http://adlnet.gov/expapi/attachments/signature"

# fmt: off
_STATEMENT_KEYS = frozenset({
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
    "version", "attachments",
})
# fmt: on
_SUBSTATEMENT_FORBIDDEN = frozenset({"id", "stored", "version", "authority"})
_SUBSTATEMENT_KEYS = (_STATEMENT_KEYS - _SUBSTATEMENT_FORBIDDEN) | {"objectType"}
_VERB_KEYS = frozenset({"id", "display"})
_RESULT_KEYS = frozenset({"score", "success", "completion", "response", "duration", "extensions"})
_SCORE_KEYS = frozenset({"scaled", "raw", "min", "max"})
_ATTACHMENT_KEYS = frozenset(
    {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}
)
_ATTACHMENT_REQUIRED = ("usageType", "display", "contentType", "length", "sha2")
_VERSION = {"1.0.3": re.compile(r"1\.0\.[0-9]+"), "2.0.0": re.compile(r"2\.0\.[0-9]+")}
_MEDIA_NAME = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(rf"{_MEDIA_NAME}/{_MEDIA_NAME}(?:\s*;.*)?", re.ASCII | re.DOTALL)
_SHA2 = re.compile(r"[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128}", re.I | re.A)


@dataclass(frozen=True, slots=True)
class Problem:
    """One way in which a Statement breaks the specification."""

    path: str
    """JSON path of the offending value, e.g. ``$.context.instructor.account.homePage``."""
    rule: str
    """Short stable rule code, e.g. ``agent.ifi-count`` or ``unknown-property``."""
    message: str
    """A sentence naming what is wrong and what is allowed."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.rule}]"


def validate_statement(statement: object, *, version: XAPIVersion = "1.0.3") -> list[Problem]:
    """Every problem in ``statement`` (parsed JSON) under xAPI ``version``; empty when valid.

    Never raises for any JSON-like input; raises ``ValueError`` only for an unknown ``version``.
    """
    if version not in _VERSION:
        raise ValueError(f"unsupported xAPI version {version!r}; use '1.0.3' or '2.0.0'")
    if _validate_fast.valid(statement, version):  # same verdict, without paths and messages
        return []
    return full_validation(statement, version=version)


def full_validation(statement: object, *, version: XAPIVersion = "1.0.3") -> list[Problem]:
    """`validate_statement` without its fast path: every rule walked, every problem reported."""
    if version not in _VERSION:
        raise ValueError(f"unsupported xAPI version {version!r}; use '1.0.3' or '2.0.0'")
    report = Report(version)
    _statement(report, statement, "$", substatement=False)
    return [Problem(path, rule, message) for path, rule, message in report.found]


def is_valid(statement: object, *, version: XAPIVersion = "1.0.3") -> bool:
    """Whether ``statement`` has no problems under xAPI ``version``."""
    return not validate_statement(statement, version=version)


# --------------------------------------------------------------------------- Statement


def _statement(report: Report, value: object, path: str, *, substatement: bool) -> None:
    what = "a SubStatement" if substatement else "a Statement"
    obj = parts.expect_object(report, value, path, what)
    if obj is None:
        return
    if substatement:
        for key in sorted(_SUBSTATEMENT_FORBIDDEN & obj.keys()):
            report.add(
                child(path, key),
                "substatement.forbidden-property",
                f"a SubStatement must not have {key!r} (id, stored, version and authority "
                "belong to the containing Statement only)",
            )
    props = parts.properties(
        report,
        obj,
        path,
        what=what,
        allowed=_SUBSTATEMENT_KEYS if substatement else _STATEMENT_KEYS,
        required=("actor", "verb", "object"),
        skip=_SUBSTATEMENT_FORBIDDEN if substatement else frozenset(),
    )
    if "id" in props:
        parts.uuid(report, props["id"], child(path, "id"), "a Statement id")
    if "actor" in props:
        parts.agent_or_group(report, props["actor"], child(path, "actor"), "the actor")
    verb_id = _verb(report, props["verb"], child(path, "verb")) if "verb" in props else None
    object_type = _object_type(props.get("object"))
    if "object" in props:
        _object(report, props["object"], child(path, "object"), in_substatement=substatement)
        if verb_id == VOIDED_VERB and object_type is not None and object_type != "StatementRef":
            report.add(
                child(path, "object"),
                "statement.voiding-object",
                f"a Statement with the verb {VOIDED_VERB} voids another Statement, so its object "
                f"must be a StatementRef, not {parts.show(object_type)}",
            )
    if "result" in props:
        _result(report, props["result"], child(path, "result"))
    if "context" in props:
        context(report, props["context"], child(path, "context"), object_type)
    for key in ("timestamp", "stored"):
        if key in props:
            parts.timestamp(report, props[key], child(path, key), f"'{key}'")
    if "authority" in props:
        _authority(report, props["authority"], child(path, "authority"))
    if "version" in props:
        _version(report, props["version"], child(path, "version"))
    if "attachments" in props:
        _attachments(report, props["attachments"], child(path, "attachments"))


def _object_type(value: object) -> str | None:
    """The objectType a Statement's object declares (absent: Activity); None if unusable."""
    if not isinstance(value, dict):
        return None
    if "objectType" not in value:
        return "Agent" if _looks_like_agent(value) else "Activity"
    object_type = value["objectType"]
    return object_type if isinstance(object_type, str) else None


def _looks_like_agent(obj: dict[object, object]) -> bool:
    """An object without objectType and id but with an Agent identifier (mbox, account...)."""
    return (
        obj.get("objectType") is None and "id" not in obj and any(k in obj for k in parts.IFI_KEYS)
    )


def _verb(report: Report, value: object, path: str) -> str | None:
    obj = parts.expect_object(report, value, path, "the verb")
    if obj is None:
        return None
    props = parts.properties(
        report, obj, path, what="the verb", allowed=_VERB_KEYS, required=("id",)
    )
    if "display" in props:
        parts.language_map(report, props["display"], child(path, "display"), "a verb's display")
    if "id" in props:
        return parts.iri(report, props["id"], child(path, "id"), "a verb id")
    return None


def _version(report: Report, value: object, path: str) -> None:
    text = parts.string(report, value, path, "'version'")
    if text is not None and _VERSION[report.version].fullmatch(text) is None:
        prefix = report.version[:4]
        report.add(
            path,
            "statement.version",
            f"'version' must be an xAPI {prefix}x version like {prefix}0 when validating "
            f"against xAPI {report.version}, not {parts.show(text)}",
        )


def _authority(report: Report, value: object, path: str) -> None:
    kind = parts.agent_or_group(report, value, path, "the authority")
    if kind != "Group" or not isinstance(value, dict):
        return
    members = value.get("member")
    if not isinstance(members, list) or len(members) != 2:
        report.add(
            path,
            "authority.group-members",
            "an authority that is a Group must be the 3-legged OAuth pair: "
            "a Group of exactly two Agents (the application and the user)",
        )


# --------------------------------------------------------------------------- Object


def _object(report: Report, value: object, path: str, *, in_substatement: bool) -> None:
    obj = parts.expect_object(report, value, path, "the object")
    if obj is None:
        return
    object_type = obj.get("objectType")
    if _looks_like_agent(obj):
        # Without objectType the object would be an Activity, but this one is plainly an Agent
        # that forgot the objectType the spec requires of Agents used as objects (2.4.4.2).
        parts.agent(report, obj, path, "the object", object_type_required=True)
    elif object_type is None or object_type == "Activity":
        activity(report, obj, path, "the object Activity")
    elif object_type in ("Agent", "Group"):
        parts.agent_or_group(report, obj, path, "the object", object_type_required=True)
    elif object_type == "StatementRef":
        statement_ref(report, obj, path, "the object StatementRef")
    elif object_type == "SubStatement":
        if in_substatement:
            report.add(
                path,
                "substatement.nested",
                "a SubStatement's object must not be another SubStatement (no nesting); "
                "use an Activity, Agent, Group or StatementRef",
            )
        else:
            _statement(report, obj, path, substatement=True)
    else:
        report.add(
            child(path, "objectType"),
            "object.object-type",
            "a Statement's objectType must be one of Activity, Agent, Group, SubStatement, "
            f"StatementRef (case sensitive), not {parts.show(object_type)}",
        )


# --------------------------------------------------------------------------- Result


def _result(report: Report, value: object, path: str) -> None:
    obj = parts.expect_object(report, value, path, "the result")
    if obj is None:
        return
    props = parts.properties(report, obj, path, what="the result", allowed=_RESULT_KEYS)
    if "score" in props:
        _score(report, props["score"], child(path, "score"))
    for key in ("success", "completion"):
        if key in props:
            parts.boolean(report, props[key], child(path, key), f"result.{key}")
    if "response" in props:
        parts.string(report, props["response"], child(path, "response"), "result.response")
    if "duration" in props:
        parts.duration(report, props["duration"], child(path, "duration"), "result.duration")
    if "extensions" in props:
        parts.extensions(report, props["extensions"], child(path, "extensions"), "extensions")


def _score(report: Report, value: object, path: str) -> None:
    obj = parts.expect_object(report, value, path, "the score")
    if obj is None:
        return
    props = parts.properties(report, obj, path, what="the score", allowed=_SCORE_KEYS)
    numbers = {
        key: parts.number(report, props[key], child(path, key), f"score.{key}")
        for key in ("scaled", "raw", "min", "max")
        if key in props
    }
    scaled, raw = numbers.get("scaled"), numbers.get("raw")
    low, high = numbers.get("min"), numbers.get("max")
    if scaled is not None and not -1 <= scaled <= 1:
        report.add(
            child(path, "scaled"),
            "result.score.scaled-range",
            f"score.scaled must be between -1 and 1 inclusive, not {parts.show(scaled)}",
        )
    if low is not None and high is not None and not low < high:
        report.add(
            child(path, "min"),
            "result.score.min-max",
            f"score.min ({parts.show(low)}) must be less than score.max ({parts.show(high)})",
        )
    if raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
        report.add(
            child(path, "raw"),
            "result.score.raw-range",
            f"score.raw ({parts.show(raw)}) must lie between score.min and score.max inclusive",
        )


# --------------------------------------------------------------------------- Attachments


def _attachments(report: Report, value: object, path: str) -> None:
    attachments = parts.array(report, value, path, "'attachments'")
    for entry_path, entry in parts.items(report, attachments or [], path, "'attachments'"):
        _attachment(report, entry, entry_path)


def _attachment(report: Report, value: object, path: str) -> None:
    what = "an attachment"
    obj = parts.expect_object(report, value, path, what)
    if obj is None:
        return
    props = parts.properties(
        report, obj, path, what=what, allowed=_ATTACHMENT_KEYS, required=_ATTACHMENT_REQUIRED
    )
    usage_type = None
    if "usageType" in props:
        usage_type = parts.iri(report, props["usageType"], child(path, "usageType"), "usageType")
    for key in ("display", "description"):
        if key in props:
            parts.language_map(report, props[key], child(path, key), f"an attachment's {key}")
    content_type = None
    if "contentType" in props:
        type_path = child(path, "contentType")
        content_type = parts.string(report, props["contentType"], type_path, "contentType")
        if content_type is not None and _MEDIA_TYPE.fullmatch(content_type) is None:
            report.add(
                type_path,
                "attachment.content-type",
                "contentType must be an Internet Media Type like application/pdf, "
                f"not {parts.show(content_type)}",
            )
    if usage_type == SIGNATURE_USAGE_TYPE and content_type not in (
        None,
        "application/octet-stream",
    ):
        report.add(
            child(path, "contentType"),
            "attachment.signature-content-type",
            "a signature attachment (usageType "
            f"{SIGNATURE_USAGE_TYPE}) must have contentType application/octet-stream",
        )
    if "length" in props:
        length_path = child(path, "length")
        length = parts.integer(report, props["length"], length_path, "an attachment's length")
        if length is not None and length < 0:
            report.add(
                length_path,
                "attachment.length",
                f"an attachment's length is a number of octets and cannot be negative ({parts.show(length)})",
            )
    if "sha2" in props:
        sha_path = child(path, "sha2")
        digest = parts.string(report, props["sha2"], sha_path, "sha2")
        if digest is not None and _SHA2.fullmatch(digest) is None:
            report.add(
                sha_path,
                "attachment.sha2",
                "sha2 must be a hex-encoded SHA-2 digest (56, 64, 96 or 128 hex digits), "
                f"not {parts.show(digest)}",
            )
    if "fileUrl" in props:
        parts.irl(report, props["fileUrl"], child(path, "fileUrl"), "an attachment's fileUrl")
