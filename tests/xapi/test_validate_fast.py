"""The validator's fast path never changes a verdict: whatever it accepts, the full walk accepts.

`_validate_fast.valid` answers True ("valid") or False ("ask the full validator"). These tests
check that a True is always right, on adoptloop's own statements (the golden files) and on
statements mutated at random, near the rules' edges, under both xAPI versions.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoptloop.xapi import _validate_fast
from adoptloop.xapi.validate import XAPIVersion, full_validation, validate_statement

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "statements"
VERSIONS: tuple[XAPIVersion, ...] = ("1.0.3", "2.0.0")


def _golden() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(GOLDEN.rglob("*.json")):
        found.extend(json.loads(path.read_text(encoding="utf-8")))
    return found


_OTHERS: list[dict[str, Any]] = [
    {
        "id": "6690E6C9-3EF0-4ED3-8B37-7F3964730BEE",
        "actor": {"name": "Ada", "mbox": "mailto:ada@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"fr": "terminé"}},
        "object": {
            "id": "https://lms.example.com/courses/negotiation-101",
            "definition": {
                "description": {"en": "Plan a negotiation."},
                "moreInfo": "https://lms.example.com/about",
                "extensions": {"https://example.com/ext/x": None},
            },
        },
        "result": {
            "score": {"scaled": -0.5, "raw": -5, "min": -10, "max": 0},
            "response": "done",
            "duration": "PT1H12M30.5S",
            "extensions": {"https://example.com/ext/attempts": 2},
        },
        "context": {
            "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
            "language": "zh-Hant-TW",
            "contextActivities": {"grouping": [], "category": [{"id": "urn:x:y"}]},
        },
        "timestamp": "2024-05-01T12:30:00+02:00",
    },
    {
        "actor": {"objectType": "Agent", "mbox": "mailto:ada@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
        "timestamp": "2024-05-01T12:30:00.123Z",
    },
]

SEEDS = _golden() + _OTHERS

_NEAR_MISSES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    1.5,
    -1.0000001,
    float("inf"),
    float("nan"),
    10**30,
    "",
    " ",
    "x",
    "not an iri",
    "http://",
    "http://example.com/ x",
    "https://[::1",
    "ftp://example.com/x",
    "urn:x",
    "mailto:",
    "mailto:a@b",
    "mailto:a b@c",
    "en",
    "en-US",
    "EN-us",
    "english",
    "x-private",
    "e",
    "2024-05-01T12:30:00Z",
    "2024-05-01T12:30:00",
    "2024-05-01T12:30:00-00:00",
    "2024-02-30T12:30:00Z",
    "2024-05-01t12:30:00z",
    "2024-05-01T12:30Z",
    "2024-05-01T23:59:60Z",
    "2024-05-01T12:30:00+24:00",
    "P1D",
    "PT",
    "P1.5DT1H",
    "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "6690e6c9-3ef0-4ed3-8b37-7f3964730bez",
    "Agent",
    "Group",
    "Activity",
    "StatementRef",
    "SubStatement",
    "http://adlnet.gov/expapi/verbs/voided",
    [],
    [None],
    [{}],
    [{"id": "http://example.com/a"}],
    {},
    {"id": "http://example.com/a"},
    {"mbox": "mailto:a@example.com"},
    {"homePage": "https://hr.example.com", "name": "x"},
    {"en-US": "x"},
    {"en-US": None},
    {"http://example.com/ext": 1},
    {"not an iri": 1},
]
_KEYS = [
    "id",
    "objectType",
    "name",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
    "homePage",
    "member",
    "display",
    "definition",
    "type",
    "moreInfo",
    "interactionType",
    "choices",
    "extensions",
    "score",
    "scaled",
    "raw",
    "min",
    "max",
    "success",
    "completion",
    "response",
    "duration",
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "parent",
    "other",
    "revision",
    "platform",
    "language",
    "statement",
    "timestamp",
    "stored",
    "version",
    "authority",
    "attachments",
    "contextAgents",
    "Name",
    "en-US",
    "http://example.com/ext",
    "",
]


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    statement: Any = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        node = statement
        while True:  # walk down to a random container
            children = (
                list(node.values())
                if isinstance(node, dict)
                else node
                if isinstance(node, list)
                else []
            )
            containers = [c for c in children if isinstance(c, dict | list)]
            if not containers or draw(st.integers(0, 3)) == 0:
                break
            node = draw(st.sampled_from(containers))
        value = draw(st.sampled_from(_NEAR_MISSES) | st.text(max_size=8))
        if isinstance(node, dict):
            action = draw(st.sampled_from(["set", "add", "delete"]))
            if action == "delete" and node:
                del node[draw(st.sampled_from(sorted(node)))]
            elif action == "set" and node:
                node[draw(st.sampled_from(sorted(node)))] = copy.deepcopy(value)
            else:
                node[draw(st.sampled_from(_KEYS) | st.text(max_size=6))] = copy.deepcopy(value)
        elif isinstance(node, list):
            replace: bool = draw(st.booleans())
            if node and replace:
                node[draw(st.integers(0, len(node) - 1))] = copy.deepcopy(value)
            else:
                node.append(copy.deepcopy(value))
    return statement  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_the_fast_path_accepts_adoptloops_statements(index: int, version: XAPIVersion) -> None:
    statement = SEEDS[index]
    assert full_validation(statement, version=version) == []
    assert _validate_fast.valid(statement, version)


@settings(max_examples=3000, deadline=None)
@given(statement=_mutated(), version=st.sampled_from(VERSIONS))
def test_whatever_the_fast_path_accepts_the_full_validator_accepts(
    statement: dict[str, Any], version: XAPIVersion
) -> None:
    problems = full_validation(statement, version=version)
    if _validate_fast.valid(statement, version):
        assert problems == [], problems
    assert validate_statement(statement, version=version) == problems


def test_a_problem_is_reported_by_the_full_validator_with_its_path() -> None:
    statement = copy.deepcopy(SEEDS[0])
    statement["actor"]["account"]["homePage"] = "not an irl"
    assert not _validate_fast.valid(statement, "1.0.3")
    assert [p.rule for p in validate_statement(statement)] == ["format.irl"]


@settings(max_examples=500, deadline=None)
@given(statement=_mutated(), version=st.sampled_from(VERSIONS))
def test_a_memo_of_shared_parts_gives_the_same_verdict(
    statement: dict[str, Any], version: XAPIVersion
) -> None:
    memo = _validate_fast.Memo()
    first = _validate_fast.valid(statement, version, memo)
    assert _validate_fast.valid(statement, version, memo) == first  # parts now remembered
    assert first == _validate_fast.valid(statement, version)


def test_parts_shared_by_statements_are_checked_once_and_still_count() -> None:
    one, two = copy.deepcopy(SEEDS[1]), copy.deepcopy(SEEDS[2])
    two["actor"] = one["actor"]  # the same dict, as the translators share an actor
    memo = _validate_fast.Memo()
    assert _validate_fast.valid(one, "1.0.3", memo)
    assert id(one["actor"]) in memo.agents
    assert _validate_fast.valid(two, "1.0.3", memo)
    broken = copy.deepcopy(two)
    broken["actor"] = {"objectType": "Agent"}  # a new, invalid part is checked, not remembered
    assert not _validate_fast.valid(broken, "1.0.3", memo)
    assert full_validation(broken) != []


def test_a_null_activity_is_invalid_with_a_memo_too() -> None:
    """memo.get() of an id never remembered is None; a None activity must not match it."""
    statement = copy.deepcopy(SEEDS[1])
    statement.setdefault("context", {})["contextActivities"] = {"parent": [None]}
    assert full_validation(statement) != []
    assert not _validate_fast.valid(statement, "1.0.3", _validate_fast.Memo())
    assert not _validate_fast.valid(statement, "1.0.3")


def test_a_shared_context_activities_object_is_checked_once_and_still_counts() -> None:
    """Issue 17 (translate speed): the ratings of one visit share their contextActivities
    (the visit as parent); with a memo it is checked once, and a new invalid one still fails."""
    one, two = copy.deepcopy(SEEDS[1]), copy.deepcopy(SEEDS[2])
    shared = {"parent": [{"objectType": "Activity", "id": "https://example.com/visits/1"}]}
    one.setdefault("context", {})["contextActivities"] = shared
    two.setdefault("context", {})["contextActivities"] = shared
    memo = _validate_fast.Memo()
    assert _validate_fast.valid(one, "1.0.3", memo)
    assert id(shared) in memo.context_activities
    assert _validate_fast.valid(two, "1.0.3", memo)
    broken = copy.deepcopy(two)
    broken["context"]["contextActivities"] = {"parent": [{"id": "not an iri"}]}
    assert not _validate_fast.valid(broken, "1.0.3", memo)
    assert full_validation(broken) != []


def test_a_part_remembered_as_one_kind_is_not_taken_for_another() -> None:
    """Issue 17 (translate speed, a reviewer's read): the memo is kept per kind. A dict found
    valid as the object (an Activity) and then used as the actor must be checked as an Agent:
    it is not one, so the statement goes to the full validator, which rejects it."""
    one = copy.deepcopy(SEEDS[1])
    memo = _validate_fast.Memo()
    assert _validate_fast.valid(one, "1.0.3", memo)
    two = copy.deepcopy(SEEDS[2])
    two["actor"] = one["object"]  # the very Activity object, now as the actor
    assert full_validation(two) != []
    assert not _validate_fast.valid(two, "1.0.3", memo)


def test_the_memo_holds_at_most_its_limit_of_parts_a_kind() -> None:
    """Issue 17 (flat memory): the memo keeps each part it found valid alive, so a translate
    worker making a whole org's statements holds at most _MEMO_LIMIT parts of each kind, not
    one per statement it made; what it forgot is checked again and still counts."""
    memo = _validate_fast.Memo()
    limit = _validate_fast._MEMO_LIMIT
    for n in range(limit * 3 + 7):
        statement = copy.deepcopy(SEEDS[1])  # new dicts each time: new identities
        statement["actor"]["account"]["name"] = f"rep-{n}"
        assert _validate_fast.valid(statement, "1.0.3", memo)
        assert len(memo.agents) <= limit
        assert len(memo.activities) <= limit
    assert limit <= 5_000  # a worker's parts held: thousands, not tens of thousands
    broken = copy.deepcopy(SEEDS[1])
    broken["actor"] = {"objectType": "Agent"}
    assert not _validate_fast.valid(broken, "1.0.3", memo)
