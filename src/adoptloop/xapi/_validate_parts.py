"""Building blocks for :mod:`adoptloop.xapi.validate`.

This module holds what the statement-level rules are made of: the problem collector, JSON path
helpers, JSON type checks, the special data types of the xAPI Data section (section 4: IRIs,
IRLs, UUIDs, timestamps, durations, language tags, language maps, extensions) and Agents/Groups
(section 2.4.2), which appear in many places of a Statement.

Every function takes the :class:`Report` first and never raises on JSON-like input: each one
checks the Python type of what it was given before looking inside it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

XAPIVersion = Literal["1.0.3", "2.0.0"]
ActorKind = Literal["Agent", "Group"]


class Report:
    """Collects ``(path, rule, message)`` findings of one validation run, in discovery order."""

    __slots__ = ("found", "version")

    def __init__(self, version: XAPIVersion) -> None:
        self.version: XAPIVersion = version
        self.found: list[tuple[str, str, str]] = []

    def add(self, path: str, rule: str, message: str) -> None:
        self.found.append((path, rule, message))


# --------------------------------------------------------------------------- paths and wording

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def child(path: str, key: object) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; keys that are not identifiers use ``$.a["http://x"]``."""
    if isinstance(key, str) and _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}"
    text = key if isinstance(key, str) else show(key)
    return f"{path}[{json.dumps(text, ensure_ascii=False)}]"


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def describe(value: object) -> str:
    """The JSON type of ``value`` as a noun phrase, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def show(value: object) -> str:
    """A short, safe rendering of a scalar for messages (containers are described, not dumped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a very large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(text, ensure_ascii=False)
    return describe(value)


# --------------------------------------------------------------------------- JSON types


def expect_object(
    report: Report, value: object, path: str, what: str
) -> dict[object, object] | None:
    if value is None:
        report.add(path, "null-value", f"{what} must not be null")
        return None
    if not isinstance(value, dict):
        report.add(path, "type.object", f"{what} must be a JSON object, not {describe(value)}")
        return None
    return value


def properties(
    report: Report,
    obj: dict[object, object],
    path: str,
    *,
    what: str,
    allowed: frozenset[str],
    required: Iterable[str] = (),
    skip: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """Report unknown, null and missing properties of ``obj``; return the usable ones.

    The result holds only allowed properties whose value is not null, so callers validate each
    value without re-checking for null. Keys in ``skip`` are left to the caller to report.
    """
    usable: dict[str, object] = {}
    for key, value in obj.items():
        key_path = child(path, key)
        if key in skip:
            continue
        if not isinstance(key, str) or key not in allowed:
            name = key if isinstance(key, str) else show(key)
            report.add(
                key_path,
                "unknown-property",
                f"{what} does not allow the property {show(name)}; "
                f"allowed properties are {', '.join(sorted(allowed))} (names are case sensitive)",
            )
            continue
        if value is None:
            report.add(
                key_path,
                "null-value",
                f"{show(key)} must not be null; null is only allowed inside extension values "
                "(leave the property out instead)",
            )
            continue
        usable[key] = value
    for key in required:
        if key not in obj:
            report.add(child(path, key), "required-property", f"{what} must have {show(key)}")
    return usable


def string(report: Report, value: object, path: str, what: str) -> str | None:
    if isinstance(value, str):
        return value
    report.add(path, "type.string", f"{what} must be a string, not {describe(value)}")
    return None


def boolean(report: Report, value: object, path: str, what: str) -> bool | None:
    if isinstance(value, bool):
        return value
    report.add(
        path,
        "type.boolean",
        f"{what} must be a JSON boolean (true or false), not {describe(value)}",
    )
    return None


def number(report: Report, value: object, path: str, what: str) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " (numeric strings are not numbers)" if isinstance(value, str) else ""
        report.add(
            path, "type.number", f"{what} must be a JSON number, not {describe(value)}{hint}"
        )
        return None
    if isinstance(value, float) and not math.isfinite(value):
        report.add(path, "type.number", f"{what} must be a finite number, not {show(value)}")
        return None
    return value


def integer(report: Report, value: object, path: str, what: str) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    report.add(path, "type.integer", f"{what} must be an integer, not {show(value)}")
    return None


def array(report: Report, value: object, path: str, what: str) -> list[object] | None:
    if isinstance(value, list):
        return value
    report.add(path, "type.array", f"{what} must be a JSON array, not {describe(value)}")
    return None


def items(
    report: Report, values: list[object], path: str, what: str
) -> Iterable[tuple[str, object]]:
    """Yield ``(path, value)`` for the non-null entries of an array; report null entries."""
    for index, value in enumerate(values):
        entry_path = item(path, index)
        if value is None:
            report.add(entry_path, "null-value", f"entries of {what} must not be null")
            continue
        yield entry_path, value


# --------------------------------------------------------------------------- IRIs, IRLs, UUIDs

# Pragmatic absolute-IRI check (RFC 3987 shape): a scheme, a colon, then a non-empty remainder
# without whitespace, controls, or the characters that are never allowed in an IRI.
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I | re.A)


def is_iri(text: str) -> bool:
    return _IRI.fullmatch(text) is not None


def is_irl(text: str) -> bool:
    """An absolute ``http``/``https`` IRL with a host."""
    if not is_iri(text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


def iri(report: Report, value: object, path: str, what: str) -> str | None:
    text = string(report, value, path, what)
    if text is not None and not is_iri(text):
        report.add(
            path,
            "format.iri",
            f"{what} must be an absolute IRI with a scheme (like http://example.com/x), "
            f"not {show(text)}",
        )
        return None
    return text


def irl(report: Report, value: object, path: str, what: str) -> None:
    text = string(report, value, path, what)
    if text is not None and not is_irl(text):
        report.add(
            path,
            "format.irl",
            f"{what} must be an absolute http or https IRL with a host, not {show(text)}",
        )


def uuid(report: Report, value: object, path: str, what: str) -> None:
    text = string(report, value, path, what)
    if text is not None and _UUID.fullmatch(text) is None:
        report.add(
            path,
            "format.uuid",
            f"{what} must be a UUID in standard string form "
            f"(8-4-4-4-12 hex digits), not {show(text)}",
        )


# --------------------------------------------------------------------------- timestamps, durations

# ISO 8601 extended ("normal") date-time: reduced precision to minutes is allowed, ',' or '.'
# decimal sign, offset Z, ±hh, ±hhmm or ±hh:mm.
_TIMESTAMP_ISO = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2})"
    r"(?::(?P<s>[0-9]{2})(?:[.,][0-9]+)?)?"
    r"(?P<tz>Z|[+-](?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)?"
)
# RFC 3339 date-time: seconds required, '.' fraction, offset Z or ±hh:mm ('T'/'Z' any case).
_TIMESTAMP_RFC3339 = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})"
    r":(?P<s>[0-9]{2})(?:\.[0-9]+)?"
    r"(?P<tz>[Zz]|[+-](?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))?"
)


def _real_instant(match: re.Match[str]) -> bool:
    """Whether the matched fields name a real calendar date, time of day and offset."""
    year, month, day, hour, minute = (int(match[name]) for name in ("y", "mo", "d", "h", "mi"))
    second = int(match["s"] or 0)
    try:
        # Second 60 is a leap second; check the rest of the instant with 59.
        datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError:
        return False
    if second > 60:
        return False
    return int(match["oh"] or 0) <= 23 and int(match["om"] or 0) <= 59


def timestamp(report: Report, value: object, path: str, what: str) -> None:
    text = string(report, value, path, what)
    if text is None:
        return
    rfc3339 = report.version == "2.0.0"
    pattern = _TIMESTAMP_RFC3339 if rfc3339 else _TIMESTAMP_ISO
    shape = (
        "an RFC 3339 date-time like 2024-05-01T12:30:00.000Z"
        if rfc3339
        else "an ISO 8601 date-time like 2024-05-01T12:30:00.000Z"
    )
    match = pattern.fullmatch(text)
    if match is None or not _real_instant(match):
        report.add(path, "format.timestamp", f"{what} must be {shape}, not {show(text)}")
        return
    zone = match["tz"]
    if zone is None:
        report.add(
            path,
            "timestamp.timezone-required",
            f"{what} must state its time zone (Z or an offset like +02:00); {show(text)} has none",
        )
    elif zone[0] == "-" and int(match["oh"]) == 0 and int(match["om"] or 0) == 0:
        report.add(
            path,
            "timestamp.negative-zero-offset",
            f"{what} must not use the offset -00:00 (it means 'offset unknown' in RFC 3339); "
            "use Z or +00:00",
        )


_NUMBER = r"[0-9]+(?:[.,][0-9]+)?"
_DURATION = re.compile(
    rf"P(?:(?P<Y>{_NUMBER})Y)?(?:(?P<Mo>{_NUMBER})M)?(?:(?P<D>{_NUMBER})D)?"
    rf"(?:(?P<T>T)(?:(?P<H>{_NUMBER})H)?(?:(?P<Mi>{_NUMBER})M)?(?:(?P<S>{_NUMBER})S)?)?"
)
_DURATION_WEEKS = re.compile(rf"P{_NUMBER}W")


def is_duration(text: str) -> bool:
    """ISO 8601:2004 4.4.3.2 duration: ``PnYnMnDTnHnMnS`` (any subset) or ``PnW``."""
    if _DURATION_WEEKS.fullmatch(text):
        return True
    match = _DURATION.fullmatch(text)
    if match is None:
        return False
    present = [match[name] for name in ("Y", "Mo", "D", "H", "Mi", "S") if match[name] is not None]
    if not present:
        return False  # "P" or "PT" alone
    if match["T"] and all(match[name] is None for name in ("H", "Mi", "S")):
        return False  # "P1DT": the time designator needs a time component
    # Only the lowest-order component present may carry a decimal fraction.
    return not any(any(c in part for c in ".,") for part in present[:-1])


def duration(report: Report, value: object, path: str, what: str) -> None:
    text = string(report, value, path, what)
    if text is not None and not is_duration(text):
        report.add(
            path,
            "format.duration",
            f"{what} must be an ISO 8601 duration like PT1H30M or P3Y1M29DT4H35M59.14S "
            f"(or PnW), not {show(text)}",
        )


# --------------------------------------------------------------------------- language tags and maps

_ALNUM = "[a-z0-9]"
_LANGTAG = (
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"  # language (+ extlang)
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"  # variants
    rf"(?:-[0-9a-wyz](?:-{_ALNUM}{{2,8}})+)*"  # extensions
    rf"(?:-x(?:-{_ALNUM}{{1,8}})+)?"  # private use
)
_GRANDFATHERED = (
    "en-gb-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|"
    "i-tao|i-tay|i-tsu|sgn-be-fr|sgn-be-nl|sgn-ch-de|art-lojban|cel-gaulish|no-bok|no-nyn|"
    "zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
_LANGUAGE_TAG = re.compile(
    rf"{_LANGTAG}|x(?:-{_ALNUM}{{1,8}})+|{_GRANDFATHERED}", re.IGNORECASE | re.ASCII
)


def is_language_tag(text: str) -> bool:
    """RFC 5646 well-formedness (subtag sequence and lengths; registry membership not checked)."""
    return _LANGUAGE_TAG.fullmatch(text) is not None


def language_tag(report: Report, value: object, path: str, what: str) -> None:
    text = string(report, value, path, what)
    if text is not None and not is_language_tag(text):
        report.add(
            path,
            "format.language-tag",
            f"{what} must be an RFC 5646 language tag like en, en-US or zh-Hant-TW, "
            f"not {show(text)}",
        )


def language_map(report: Report, value: object, path: str, what: str) -> None:
    obj = expect_object(report, value, path, what)
    if obj is None:
        return
    for key, text in obj.items():
        key_path = child(path, key)
        if not isinstance(key, str) or not is_language_tag(key):
            report.add(
                key_path,
                "language-map.key",
                f"keys of {what} must be RFC 5646 language tags like en or en-US, not {show(key)}",
            )
        if text is None:
            report.add(key_path, "null-value", f"values of {what} must be strings, not null")
        elif not isinstance(text, str):
            report.add(
                key_path, "type.string", f"values of {what} must be strings, not {describe(text)}"
            )


def extensions(report: Report, value: object, path: str, what: str) -> None:
    """Keys must be IRIs; values are any JSON, null included, and are not inspected."""
    obj = expect_object(report, value, path, what)
    if obj is None:
        return
    for key in obj:
        if not isinstance(key, str) or not is_iri(key):
            report.add(
                child(path, key),
                "extensions.key-iri",
                f"keys of {what} must be absolute IRIs (like http://example.com/ext/x), "
                f"not {show(key)}",
            )


# --------------------------------------------------------------------------- Agents and Groups

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
_AGENT_KEYS = frozenset({"objectType", "name", *IFI_KEYS})
_GROUP_KEYS = _AGENT_KEYS | {"member"}
_ACCOUNT_KEYS = frozenset({"homePage", "name"})
_MBOX = re.compile(r"mailto:[^@\s]+@[^@\s]+")
_SHA1 = re.compile(r"[0-9a-f]{40}", re.I | re.A)


def actor_kind(report: Report, obj: dict[object, object], path: str) -> ActorKind | None:
    """``Agent`` or ``Group`` from ``objectType`` (absent or null means Agent); report others."""
    object_type = obj.get("objectType")
    if object_type is None:
        return "Agent"  # a null objectType is reported by properties()
    if object_type == "Agent":
        return "Agent"
    if object_type == "Group":
        return "Group"
    report.add(
        child(path, "objectType"),
        "agent.object-type",
        f"objectType must be 'Agent' or 'Group' here (case sensitive), not {show(object_type)}",
    )
    return None


def agent_or_group(
    report: Report, value: object, path: str, what: str, *, object_type_required: bool = False
) -> ActorKind | None:
    """Validate an Agent or Group; return which it is (None when unusable or neither)."""
    obj = expect_object(report, value, path, what)
    if obj is None:
        return None
    kind = actor_kind(report, obj, path)
    if kind == "Agent":
        agent(report, obj, path, what, object_type_required=object_type_required)
    elif kind == "Group":
        _group(report, obj, path, what)
    return kind


def agent(
    report: Report,
    obj: dict[object, object],
    path: str,
    what: str,
    *,
    object_type_required: bool = False,
) -> None:
    props = properties(report, obj, path, what=f"{what} (an Agent)", allowed=_AGENT_KEYS)
    if object_type_required and "objectType" not in obj:
        report.add(
            child(path, "objectType"),
            "agent.object-type-required",
            f"{what} is an Agent used as a Statement's object, so it must say objectType 'Agent'",
        )
    if "name" in props:
        string(report, props["name"], child(path, "name"), "an Agent's name")
    present = [key for key in IFI_KEYS if key in obj]
    if len(present) != 1:
        found = ", ".join(present) if present else "none"
        report.add(
            path,
            "agent.ifi-count",
            f"{what} must have exactly one inverse functional identifier "
            f"(mbox, mbox_sha1sum, openid or account); found {found}",
        )
    _ifis(report, props, path)


def _group(report: Report, obj: dict[object, object], path: str, what: str) -> None:
    props = properties(report, obj, path, what=f"{what} (a Group)", allowed=_GROUP_KEYS)
    if "name" in props:
        string(report, props["name"], child(path, "name"), "a Group's name")
    present = [key for key in IFI_KEYS if key in obj]
    if len(present) > 1:
        report.add(
            path,
            "group.ifi-count",
            f"{what} is an identified Group, which must have exactly one inverse functional "
            f"identifier; found {', '.join(present)}",
        )
    if not present and "member" not in obj:
        report.add(
            child(path, "member"),
            "group.anonymous-member-required",
            f"{what} is an anonymous Group (no inverse functional identifier), "
            "so it must list its Agents in 'member'",
        )
    _ifis(report, props, path)
    if "member" not in props:
        return
    member_path = child(path, "member")
    members = array(report, props["member"], member_path, "a Group's member list")
    for entry_path, entry in items(report, members or [], member_path, "a Group's member list"):
        member = expect_object(report, entry, entry_path, "a Group member")
        if member is None:
            continue
        kind = actor_kind(report, member, entry_path)
        if kind == "Group":
            report.add(
                entry_path,
                "group.member-not-agent",
                "a Group's members must be Agents; Groups cannot be nested in 'member'",
            )
        elif kind == "Agent":
            agent(report, member, entry_path, "a Group member")


def _ifis(report: Report, props: dict[str, object], path: str) -> None:
    if "mbox" in props:
        mbox_path = child(path, "mbox")
        text = string(report, props["mbox"], mbox_path, "mbox")
        if text is not None and _MBOX.fullmatch(text) is None:
            report.add(
                mbox_path,
                "agent.mbox-mailto",
                f"mbox must be a mailto IRI like mailto:learner@example.com, not {show(text)}",
            )
    if "mbox_sha1sum" in props:
        sha_path = child(path, "mbox_sha1sum")
        text = string(report, props["mbox_sha1sum"], sha_path, "mbox_sha1sum")
        if text is not None and _SHA1.fullmatch(text) is None:
            report.add(
                sha_path,
                "agent.mbox-sha1sum",
                f"mbox_sha1sum must be the 40 hex digit SHA-1 of a mailto IRI, not {show(text)}",
            )
    if "openid" in props:
        openid_path = child(path, "openid")
        text = string(report, props["openid"], openid_path, "openid")
        if text is not None and not (text.isascii() and is_iri(text)):
            report.add(
                openid_path,
                "agent.openid-uri",
                f"openid must be an absolute URI like https://openid.example.org/u, not {show(text)}",
            )
    if "account" in props:
        _account(report, props["account"], child(path, "account"))


def _account(report: Report, value: object, path: str) -> None:
    obj = expect_object(report, value, path, "an account")
    if obj is None:
        return
    props = properties(
        report, obj, path, what="an account", allowed=_ACCOUNT_KEYS, required=("homePage", "name")
    )
    if "homePage" in props:
        irl(report, props["homePage"], child(path, "homePage"), "an account's homePage")
    if "name" in props:
        string(report, props["name"], child(path, "name"), "an account's name")
