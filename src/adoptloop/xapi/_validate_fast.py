"""A fast yes-or-don't-know check for :func:`adoptloop.xapi.validate.validate_statement`.

`valid(statement, version)` answers True only when the statement breaks no rule of the full
validator; for anything else it answers False, and the full validator then runs and reports
every problem with its path. So it never changes a verdict: it only skips the path building,
message formatting and generic dispatch of the full validator for the statements that pass.

It covers the shapes statements usually have (and every shape adoptloop makes): an Agent with
an mbox or account, a verb, an Activity or StatementRef object, result with score / success /
completion / response / duration / extensions, context with registration, an Agent
instructor, contextActivities arrays, language and extensions, id and timestamp. Whatever it
does not cover (Groups, SubStatements, interaction activities, attachments, authority,
version, stored, team, revision, platform, context.statement, 2.0 contextAgents/Groups, ...)
answers False. Each rule it checks uses the same regular expressions and helpers as the full
validator (`_validate_parts`); tests/xapi/test_validate_fast.py checks the two agree.

The string checks (IRIs, IRLs, language tags, timestamps) are memoised in bounded dicts: the
same verb ids, activity types, extension keys and visit dates recur in nearly every statement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from adoptloop.xapi import _validate_parts as parts

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

_STATEMENT_KEYS = frozenset({"id", "actor", "verb", "object", "result", "context", "timestamp"})
_AGENT_KEYS = frozenset({"objectType", "name", "mbox", "account"})
_IFI_KEYS = frozenset(parts.IFI_KEYS)
_ACCOUNT_KEYS = frozenset({"homePage", "name"})
_VERB_KEYS = frozenset({"id", "display"})
_ACTIVITY_KEYS = frozenset({"objectType", "id", "definition"})
_DEFINITION_KEYS = frozenset({"name", "description", "type", "moreInfo", "extensions"})
_STATEMENT_REF_KEYS = frozenset({"objectType", "id"})
_RESULT_KEYS = frozenset({"score", "success", "completion", "response", "duration", "extensions"})
_SCORE_KEYS = frozenset({"scaled", "raw", "min", "max"})
_CONTEXT_KEYS = frozenset(
    {"registration", "instructor", "contextActivities", "language", "extensions"}
)
_CONTEXT_ACTIVITY_KEYS = frozenset({"parent", "grouping", "category", "other"})

_CACHE_LIMIT = 4_096
_isfinite = math.isfinite


class _Known:
    """Strings that passed one check, kept so that a recurring one costs a set lookup.

    Call sites test `text in known.ok or known.check(text)`: the lookup inline, the check
    (which remembers a pass) only on a miss. The set is emptied when it reaches its bound,
    so unique strings (visit ids) never crowd out recurring ones (verbs, types, extension
    keys) for long. The checks are pure functions of the string: caching never changes an
    answer.
    """

    __slots__ = ("_test", "ok")

    def __init__(self, test: Callable[[str], bool]) -> None:
        self._test = test
        self.ok: set[str] = set()

    def check(self, text: str) -> bool:
        if not self._test(text):
            return False
        if len(self.ok) >= _CACHE_LIMIT:
            self.ok.clear()
        self.ok.add(text)
        return True


_IRI = _Known(parts.is_iri)
_IRL = _Known(parts.is_irl)
_LANGUAGE_TAG = _Known(parts.is_language_tag)
_UUID = parts._UUID  # statement ids are unique: nothing to remember
_MBOX = _Known(lambda text: parts._MBOX.fullmatch(text) is not None)
_DURATION = _Known(parts.is_duration)


# The shape canonical.timestamp writes (UTC, milliseconds, Z), which both timestamp patterns
# accept: for it, the full check comes down to a real date and hour, minute and second in range.
_CANONICAL_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.[0-9]{3}Z"
)
_REAL_DATES: dict[str, bool] = {}


def _real_date(text: str, year: str, month: str, day: str) -> bool:
    known = _REAL_DATES.get(text)
    if known is None:
        try:
            date(int(year), int(month), int(day))
            known = True
        except ValueError:
            known = False
        if len(_REAL_DATES) >= _CACHE_LIMIT:
            _REAL_DATES.clear()
        _REAL_DATES[text] = known
    return known


def _timestamp_test(pattern_name: str) -> Callable[[str], bool]:
    pattern = getattr(parts, pattern_name)

    def test(text: str) -> bool:
        canonical = _CANONICAL_TIMESTAMP.fullmatch(text)
        if canonical is not None:
            year, month, day, hour, minute, second = canonical.groups()
            return (
                int(hour) <= 23
                and int(minute) <= 59
                and int(second) <= 60  # 60: a leap second, as parts._real_instant allows
                and _real_date(text[:10], year, month, day)
            )
        match = pattern.fullmatch(text)
        if match is None or not parts._real_instant(match):
            return False
        zone = match["tz"]
        if zone is None:
            return False  # timestamp.timezone-required
        return not (zone[0] == "-" and int(match["oh"]) == 0 and int(match["om"] or 0) == 0)

    return test


_TIMESTAMP = {
    "1.0.3": _Known(_timestamp_test("_TIMESTAMP_ISO")),
    "2.0.0": _Known(_timestamp_test("_TIMESTAMP_RFC3339")),
}


def _iri(value: Any) -> bool:
    return isinstance(value, str) and (value in _IRI.ok or _IRI.check(value))


def _language_map(value: Any) -> bool:
    if type(value) is not dict:
        return False
    for key, text in value.items():
        if type(key) is not str or not isinstance(text, str):
            return False
        if key not in _LANGUAGE_TAG.ok and not _LANGUAGE_TAG.check(key):
            return False
    return True


def _extensions(value: Any) -> bool:
    if type(value) is not dict:
        return False
    if value.keys() <= _IRI.ok:
        return True
    return all(type(key) is str and (key in _IRI.ok or _IRI.check(key)) for key in value)


Seen = dict[int, Any]  # id(object) -> the object, found valid


class Memo:
    """The parts found valid, by identity, one dict per kind: an object found valid as one
    kind (an Activity) is never taken as valid for another (an Agent)."""

    __slots__ = ("activities", "agents", "context_activities", "verbs")

    def __init__(self) -> None:
        self.agents: Seen = {}
        self.verbs: Seen = {}
        self.activities: Seen = {}
        self.context_activities: Seen = {}


# parts remembered per kind, at most (then forgotten all at once). The parts that recur are
# a batch's actors and the translators' shared verbs and activities, so a few thousand keep
# the hits; each part held is a dict kept alive: at 20,000 a kind, each translate worker
# held ~19 MB more at 10,000 reps (two workers 193 -> 155 MB, the stage no slower)
_MEMO_LIMIT = 2_000
_ABSENT = object()  # what memo.get gives for an id not remembered (None is a possible value)


def _remember(memo: Seen, value: Any) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[id(value)] = value  # holding it: its id cannot be reused while it is remembered


def _checked(value: Any, memo: Seen | None, check: Callable[[Any], bool]) -> bool:
    """`check(value)`, or True at once for the very object found valid before."""
    if memo is not None and memo.get(id(value), _ABSENT) is value:
        return True
    if not check(value):
        return False
    if memo is not None:
        _remember(memo, value)
    return True


def _agent(value: Any, memo: Memo | None) -> bool:
    return _checked(value, None if memo is None else memo.agents, _check_agent)


def _verb(value: Any, memo: Memo | None) -> str | None:
    seen = None if memo is None else memo.verbs
    known = seen.get(id(value)) if seen is not None else None
    if known is not None and known is value:
        return str(known["id"])
    checked = _check_verb(value)
    if checked is not None and seen is not None:
        _remember(seen, value)
    return checked


def _activity(value: Any, memo: Memo | None) -> bool:
    return _checked(value, None if memo is None else memo.activities, _check_activity)


def _check_agent(value: Any) -> bool:
    """An Agent (not a Group) with exactly one of mbox / account."""
    if type(value) is not dict or not value.keys() <= _AGENT_KEYS or None in value.values():
        return False
    if value.get("objectType", "Agent") != "Agent":
        return False
    if "name" in value and not isinstance(value["name"], str):
        return False
    if len(value.keys() & _IFI_KEYS) != 1:
        return False
    if "mbox" in value:
        mbox = value["mbox"]
        return isinstance(mbox, str) and (mbox in _MBOX.ok or _MBOX.check(mbox))
    account = value["account"]
    return (
        type(account) is dict
        and len(account) == 2
        and account.keys() <= _ACCOUNT_KEYS
        and None not in account.values()
        and isinstance(account["homePage"], str)
        and (account["homePage"] in _IRL.ok or _IRL.check(account["homePage"]))
        and isinstance(account["name"], str)
    )


def _check_verb(value: Any) -> str | None:
    """The verb id when the verb is valid, else None."""
    if (
        type(value) is not dict
        or "id" not in value
        or not value.keys() <= _VERB_KEYS
        or None in value.values()
    ):
        return None
    verb_id = value["id"]
    if not _iri(verb_id):
        return None
    if "display" in value and not _language_map(value["display"]):
        return None
    return verb_id if isinstance(verb_id, str) else None


def _check_activity(value: Any) -> bool:
    if (
        type(value) is not dict
        or "id" not in value
        or not value.keys() <= _ACTIVITY_KEYS
        or None in value.values()
    ):
        return False
    if value.get("objectType", "Activity") != "Activity":
        return False
    if not _iri(value["id"]):
        return False
    if "definition" not in value:
        return True
    definition = value["definition"]
    if (
        type(definition) is not dict
        or not definition.keys() <= _DEFINITION_KEYS
        or None in definition.values()
    ):
        return False
    for key in ("name", "description"):
        if key in definition and not _language_map(definition[key]):
            return False
    if "type" in definition and not _iri(definition["type"]):
        return False
    if "moreInfo" in definition:
        more = definition["moreInfo"]
        if not isinstance(more, str) or not (more in _IRL.ok or _IRL.check(more)):
            return False
    return "extensions" not in definition or _extensions(definition["extensions"])


def _statement_ref(value: dict[Any, Any]) -> bool:
    if value.keys() != _STATEMENT_REF_KEYS or None in value.values():
        return False
    ref = value["id"]
    return isinstance(ref, str) and _UUID.fullmatch(ref) is not None


def _number(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is int:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def _score(value: Any) -> bool:
    if type(value) is not dict or not value.keys() <= _SCORE_KEYS or None in value.values():
        return False
    for number in value.values():
        kind = type(number)
        if kind is float:
            if not _isfinite(number):
                return False
        elif kind is not int and not _number(number):
            return False
    scaled, raw = value.get("scaled"), value.get("raw")
    low, high = value.get("min"), value.get("max")
    if scaled is not None and not -1 <= scaled <= 1:
        return False
    if low is not None and high is not None and not low < high:
        return False
    return raw is None or not ((low is not None and raw < low) or (high is not None and raw > high))


def _result(value: Any) -> bool:
    if type(value) is not dict or not value.keys() <= _RESULT_KEYS or None in value.values():
        return False
    if "score" in value and not _score(value["score"]):
        return False
    for key in ("success", "completion"):
        if key in value and not isinstance(value[key], bool):
            return False
    if "response" in value and not isinstance(value["response"], str):
        return False
    if "duration" in value:
        duration = value["duration"]
        if not isinstance(duration, str) or not _DURATION.check(duration):
            return False
    return "extensions" not in value or _extensions(value["extensions"])


def _context(value: Any, memo: Memo | None) -> bool:
    if type(value) is not dict or not value.keys() <= _CONTEXT_KEYS or None in value.values():
        return False
    if "registration" in value:
        registration = value["registration"]
        if not isinstance(registration, str) or _UUID.fullmatch(registration) is None:
            return False
    if "instructor" in value and not _agent(value["instructor"], memo):
        return False
    if "contextActivities" in value:
        activities = value["contextActivities"]  # often one object shared by many statements
        seen = None if memo is None else memo.context_activities
        if seen is None or seen.get(id(activities), _ABSENT) is not activities:
            if not _context_activities(activities, memo):
                return False
            if seen is not None:
                _remember(seen, activities)
    if "language" in value:
        language = value["language"]
        if not isinstance(language, str) or not (
            language in _LANGUAGE_TAG.ok or _LANGUAGE_TAG.check(language)
        ):
            return False
    return "extensions" not in value or _extensions(value["extensions"])


def _context_activities(value: Any, memo: Memo | None) -> bool:
    if (
        type(value) is not dict
        or not value.keys() <= _CONTEXT_ACTIVITY_KEYS
        or None in value.values()
    ):
        return False
    for entries in value.values():
        if type(entries) is not list:
            return False  # a single object (1.0.3 only) is left to the full validator
        for entry in entries:
            if not _activity(entry, memo):
                return False
    return True


def valid(statement: object, version: str, memo: Memo | None = None) -> bool:
    """True only if the full validator would find no problem; False means "ask it".

    `memo` (optional, the caller's): the Agents, verbs and Activities already found valid, by
    identity, so that parts shared by many statements are checked once. Only for a caller
    that never changes an object once it was validated (adoptloop's translators share such
    parts between statements and never change them).
    """
    if type(statement) is not dict:
        return False
    if not statement.keys() <= _STATEMENT_KEYS or None in statement.values():
        return False
    if "actor" not in statement or "verb" not in statement or "object" not in statement:
        return False
    timestamps = _TIMESTAMP.get(version)
    if timestamps is None:
        return False
    if "id" in statement:
        statement_id = statement["id"]
        if not isinstance(statement_id, str) or _UUID.fullmatch(statement_id) is None:
            return False
    actor = statement["actor"]
    if (memo is None or memo.agents.get(id(actor), _ABSENT) is not actor) and not _agent(
        actor, memo
    ):
        return False
    verb = statement["verb"]
    if memo is not None and memo.verbs.get(id(verb), _ABSENT) is verb:
        verb_id = verb["id"]  # a verb remembered was checked, its id a string IRI
    else:
        verb_id = _verb(verb, memo)
        if verb_id is None:
            return False
    obj = statement["object"]
    if type(obj) is not dict:
        return False
    object_type = obj.get("objectType")
    if object_type == "StatementRef":
        if not _statement_ref(obj):
            return False
    elif verb_id == VOIDED_VERB:
        return False  # statement.voiding-object, or an object shape left to the full validator
    elif (object_type is None and "id" not in obj) or not (
        (memo is not None and memo.activities.get(id(obj), _ABSENT) is obj) or _activity(obj, memo)
    ):
        return False  # an object that may be an Agent, or an invalid Activity
    if "result" in statement and not _result(statement["result"]):
        return False
    if "context" in statement and not _context(statement["context"], memo):
        return False
    if "timestamp" in statement:
        stamp = statement["timestamp"]
        if not isinstance(stamp, str) or not (stamp in timestamps.ok or timestamps.check(stamp)):
            return False
    return True
