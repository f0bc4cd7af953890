"""Tests for the strict xAPI statement validator (adoptloop.xapi.validate)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoptloop.xapi.validate import Problem, XAPIVersion, is_valid, validate_statement

Statement = dict[str, Any]

_DELETE = object()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_MINIMAL: Statement = {
    "actor": {"mbox": "mailto:ada@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
    "object": {"id": "https://lms.example.com/courses/negotiation-101"},
}

_RICH: Statement = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {"objectType": "Agent", "name": "Ada Learner", "mbox": "mailto:ada@example.com"},
    "verb": {
        "id": "http://adlnet.gov/expapi/verbs/completed",
        "display": {"en-US": "completed", "fr": "a terminé"},
    },
    "object": {
        "objectType": "Activity",
        "id": "https://lms.example.com/courses/negotiation-101",
        "definition": {
            "name": {"en-US": "Negotiation 101"},
            "description": {"en-US": "Plan, open and close a negotiation."},
            "type": "http://adlnet.gov/expapi/activities/course",
            "moreInfo": "https://lms.example.com/courses/negotiation-101/about",
            "extensions": {"https://adoptloop.example.com/xapi/ext/catalog-code": "NEG-101"},
        },
    },
    "result": {
        "score": {"scaled": 0.85, "raw": 85, "min": 0, "max": 100},
        "success": True,
        "completion": True,
        "response": "Submitted the final role-play.",
        "duration": "PT1H12M30.5S",
        "extensions": {
            "https://adoptloop.example.com/xapi/ext/attempts": 2,
            "https://adoptloop.example.com/xapi/ext/proctor-notes": None,
        },
    },
    "context": {
        "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
        "instructor": {
            "name": "Grace Coach",
            "account": {"homePage": "https://hr.example.com", "name": "E-1042"},
        },
        "team": {
            "objectType": "Group",
            "name": "Sales West",
            "member": [
                {"mbox": "mailto:ada@example.com"},
                {"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"},
            ],
        },
        "contextActivities": {
            "parent": [
                {"objectType": "Activity", "id": "https://lms.example.com/programs/sales-academy"}
            ],
            "other": [{"id": "https://crm.example.com/playbooks/discovery"}],
        },
        "revision": "3",
        "platform": "Example LMS",
        "language": "en-US",
        "statement": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
        "extensions": {
            "https://adoptloop.example.com/xapi/ext/cohort": {"name": "2024-Q2", "size": 12}
        },
    },
    "timestamp": "2024-05-01T12:30:15.123Z",
    "stored": "2024-05-01T12:30:16.001+00:00",
    "authority": {
        "objectType": "Agent",
        "account": {"homePage": "https://lrs.example.com", "name": "adoptloop-ingest"},
    },
    "version": "1.0.0",
    "attachments": [
        {
            "usageType": "http://adlnet.gov/expapi/attachments/certificate",
            "display": {"en-US": "Completion certificate"},
            "contentType": "application/pdf",
            "length": 12345,
            "sha2": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "fileUrl": "https://files.example.com/certificates/6690e6c9.pdf",
        }
    ],
}

_INTERACTION: Statement = {
    "actor": {"openid": "https://openid.example.org/ada"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en": "answered"}},
    "object": {
        "id": "https://lms.example.com/quizzes/q1",
        "definition": {
            "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            "interactionType": "choice",
            "correctResponsesPattern": ["golf[,]tetris"],
            "choices": [
                {"id": "golf", "description": {"en-US": "Golf Example"}},
                {"id": "facebook", "description": {"en-US": "Facebook App"}},
                {"id": "tetris", "description": {"en-US": "Tetris Example"}},
            ],
        },
    },
    "result": {"response": "golf[,]tetris", "success": True},
}

_SUBSTATEMENT: Statement = {
    "actor": {"objectType": "Agent", "mbox": "mailto:coach@example.com"},
    "verb": {"id": "http://example.com/verbs/planned"},
    "object": {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:ada@example.com"},
        "verb": {"id": "http://example.com/verbs/will-apply"},
        "object": {"objectType": "Agent", "mbox": "mailto:customer@example.com"},
        "context": {"instructor": {"mbox": "mailto:coach@example.com"}},
        "timestamp": "2030-01-01T09:00:00+01:00",
    },
}

_VOIDING: Statement = {
    "actor": {"objectType": "Agent", "mbox": "mailto:admin@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
    "object": {"objectType": "StatementRef", "id": "E05AA883-ACAF-40AD-BF54-02C8CE485FB0"},
}

_V2: Statement = {
    "actor": {"mbox": "mailto:ada@example.com"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
    "object": {"id": "https://lms.example.com/courses/negotiation-101"},
    "context": {
        "contextActivities": {"parent": [{"id": "https://lms.example.com/programs/sales"}]},
        "contextAgents": [
            {
                "objectType": "contextAgent",
                "agent": {"mbox": "mailto:coach@example.com"},
                "relevantTypes": ["https://adoptloop.example.com/xapi/roles/coach"],
            }
        ],
        "contextGroups": [
            {
                "objectType": "contextGroup",
                "group": {"objectType": "Group", "member": [{"mbox": "mailto:ada@example.com"}]},
                "relevantTypes": ["https://adoptloop.example.com/xapi/roles/cohort"],
            }
        ],
    },
    "timestamp": "2024-05-01T12:30:15.123+02:00",
    "version": "2.0.0",
}

# The long example of the spec's Data section, Appendix A (xAPI 1.0.3).
_SPEC_APPENDIX_A: Statement = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {
        "name": "Team PB",
        "mbox": "mailto:teampb@example.com",
        "member": [
            {
                "name": "Andrew Downes",
                "account": {"homePage": "http://www.example.com", "name": "13936749"},
                "objectType": "Agent",
            },
            {
                "name": "Toby Nichols",
                "openid": "http://toby.openid.example.org/",
                "objectType": "Agent",
            },
            {
                "name": "Ena Hills",
                "mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9",
                "objectType": "Agent",
            },
        ],
        "objectType": "Group",
    },
    "verb": {
        "id": "http://adlnet.gov/expapi/verbs/attended",
        "display": {"en-GB": "attended", "en-US": "attended"},
    },
    "result": {
        "extensions": {
            "http://example.com/profiles/meetings/resultextensions/minuteslocation": (
                "X:\\meetings\\minutes\\examplemeeting.one"
            )
        },
        "success": True,
        "completion": True,
        "response": "We agreed on some example actions.",
        "duration": "PT1H0M0S",
    },
    "context": {
        "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
        "contextActivities": {
            "parent": [
                {"id": "http://www.example.com/meetings/series/267", "objectType": "Activity"}
            ],
            "category": [
                {
                    "id": "http://www.example.com/meetings/categories/teammeeting",
                    "objectType": "Activity",
                    "definition": {
                        "name": {"en": "team meeting"},
                        "description": {
                            "en": "A category of meeting used for regular team meetings."
                        },
                        "type": "http://example.com/expapi/activities/meetingcategory",
                    },
                }
            ],
            "other": [
                {
                    "id": "http://www.example.com/meetings/occurances/34257",
                    "objectType": "Activity",
                },
                {
                    "id": "http://www.example.com/meetings/occurances/3425567",
                    "objectType": "Activity",
                },
            ],
        },
        "instructor": {
            "name": "Andrew Downes",
            "account": {"homePage": "http://www.example.com", "name": "13936749"},
            "objectType": "Agent",
        },
        "team": {"name": "Team PB", "mbox": "mailto:teampb@example.com", "objectType": "Group"},
        "platform": "Example virtual meeting software",
        "language": "tlh",
        "statement": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
    },
    "timestamp": "2013-05-18T05:32:34.804+00:00",
    "stored": "2013-05-18T05:32:34.804+00:00",
    "authority": {
        "account": {"homePage": "http://cloud.scorm.com/", "name": "anonymous"},
        "objectType": "Agent",
    },
    "version": "1.0.0",
    "object": {
        "id": "http://www.example.com/meetings/occurances/34534",
        "definition": {
            "extensions": {
                "http://example.com/profiles/meetings/activitydefinitionextensions/room": {
                    "name": "Kilby",
                    "id": "http://example.com/rooms/342",
                }
            },
            "name": {"en-GB": "example meeting", "en-US": "example meeting"},
            "description": {"en-US": "An example meeting that happened on a specific occasion."},
            "type": "http://adlnet.gov/expapi/activities/meeting",
            "moreInfo": "http://virtualmeeting.example.com/345256",
        },
        "objectType": "Activity",
    },
}


def _components(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "description": {"en-US": i.title()}} for i in ids]


# Interaction Activity definitions in the shape of the spec's Appendix C, one per interactionType.
_SPEC_APPENDIX_C: dict[str, dict[str, Any]] = {
    "true-false": {"correctResponsesPattern": ["true"]},
    "choice": {
        "correctResponsesPattern": ["golf[,]tetris"],
        "choices": _components("golf", "tetris"),
    },
    "fill-in": {"correctResponsesPattern": ["Bob's your uncle"]},
    "long-fill-in": {
        "correctResponsesPattern": ["{case_matters=false}{lang=en}To store learning experiences."]
    },
    "likert": {
        "correctResponsesPattern": ["likert_3"],
        "scale": _components("likert_0", "likert_3"),
    },
    "matching": {
        "correctResponsesPattern": ["ben[.]3[,]chris[.]2"],
        "source": _components("ben", "chris"),
        "target": _components("2", "3"),
    },
    "performance": {
        "correctResponsesPattern": ["pong[.]1:[,]dg[.]:10[,]lunch[.]"],
        "steps": _components("pong", "dg", "lunch"),
    },
    "sequencing": {"correctResponsesPattern": ["tim[,]ben"], "choices": _components("tim", "ben")},
    "numeric": {"correctResponsesPattern": ["4[:]"]},
    "other": {"correctResponsesPattern": ["(35.937432,-86.868896)"]},
}


def rich() -> Statement:
    return copy.deepcopy(_RICH)


def patched(base: Statement, path: str, value: object) -> Statement:
    """A deep copy of ``base`` with the value at dotted ``path`` replaced (or deleted).

    Path segments that are digits index arrays: ``object.definition.choices.2.id``.
    """
    statement = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = statement
    for segment in parents:
        node = node[int(segment)] if segment.isdigit() else node[segment]
    key: int | str = int(last) if last.isdigit() else last
    if value is _DELETE:
        del node[key]
    else:
        node[key] = copy.deepcopy(value)
    return statement


def pairs(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(problem.path, problem.rule) for problem in problems}


# --------------------------------------------------------------------------- valid statements


def test_minimal_statement_is_valid() -> None:
    assert validate_statement(_MINIMAL) == []
    assert is_valid(_MINIMAL)


def test_rich_completion_statement_is_valid() -> None:
    assert validate_statement(rich()) == []


@pytest.mark.parametrize(
    ("statement", "version"),
    [
        pytest.param(_INTERACTION, "1.0.3", id="choice-interaction"),
        pytest.param(_SUBSTATEMENT, "1.0.3", id="substatement-with-agent-object"),
        pytest.param(_VOIDING, "1.0.3", id="voiding-statement-uppercase-uuid"),
        pytest.param(_V2, "2.0.0", id="xapi-2-context-agents-and-groups"),
        pytest.param(
            patched(_MINIMAL, "object", {"objectType": "Group", "mbox": "mailto:t@example.com"}),
            "1.0.3",
            id="identified-group-as-object",
        ),
        pytest.param(
            patched(
                _MINIMAL,
                "authority",
                {
                    "objectType": "Group",
                    "member": [
                        {
                            "account": {
                                "homePage": "http://example.com/xAPI/OAuth/Token",
                                "name": "app",
                            }
                        },
                        {"mbox": "mailto:bob@example.com"},
                    ],
                },
            ),
            "1.0.3",
            id="three-legged-oauth-authority",
        ),
    ],
)
def test_other_valid_statement_shapes_pass(statement: Statement, version: XAPIVersion) -> None:
    assert validate_statement(statement, version=version) == []


def test_spec_appendix_a_long_example_is_valid() -> None:
    assert validate_statement(_SPEC_APPENDIX_A) == []


@pytest.mark.parametrize("interaction_type", sorted(_SPEC_APPENDIX_C))
def test_spec_appendix_c_interaction_definitions_are_valid(interaction_type: str) -> None:
    definition = {
        "description": {"en-US": "An interaction"},
        "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
        "interactionType": interaction_type,
        **_SPEC_APPENDIX_C[interaction_type],
    }
    assert validate_statement(patched(_MINIMAL, "object.definition", definition)) == []


def test_single_context_activity_object_is_accepted_in_1_0_3_only() -> None:
    statement = patched(
        _MINIMAL, "context", {"contextActivities": {"parent": {"id": "https://example.com/p"}}}
    )
    assert is_valid(statement, version="1.0.3")
    assert ("$.context.contextActivities.parent", "context.context-activities-array") in pairs(
        validate_statement(statement, version="2.0.0")
    )


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-05-01T12:30:15Z",
        "2024-05-01T12:30:15.123456+05:30",
        "2024-05-01T12:30:15,5-08:00",
        "2024-05-01T12:30+0100",
        "2016-12-31T23:59:60Z",
    ],
)
def test_iso_8601_timestamps_with_a_zone_are_accepted_in_1_0_3(timestamp: str) -> None:
    assert is_valid(patched(_MINIMAL, "timestamp", timestamp))


@pytest.mark.parametrize(
    "duration", ["PT4H35M59.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "PT0S", "P1DT12H"]
)
def test_iso_8601_durations_are_accepted(duration: str) -> None:
    assert is_valid(patched(_MINIMAL, "result", {"duration": duration}))


@pytest.mark.parametrize("tag", ["en", "en-US", "zh-Hant-TW", "es-419", "de-CH-1901", "x-klingon"])
def test_rfc_5646_language_tags_are_accepted_as_language_map_keys(tag: str) -> None:
    assert is_valid(patched(_MINIMAL, "verb.display", {tag: "experienced"}))


def test_null_is_allowed_inside_extension_values() -> None:
    statement = patched(_MINIMAL, "result", {"extensions": {"http://example.com/x": None}})
    assert is_valid(statement)


def test_problem_str_names_path_message_and_rule() -> None:
    problem = Problem("$.actor", "agent.ifi-count", "the actor needs one identifier")
    assert str(problem) == "$.actor: the actor needs one identifier [agent.ifi-count]"


def test_every_problem_is_reported_not_just_the_first() -> None:
    statement = patched(patched(_MINIMAL, "id", "nope"), "timestamp", "2024-05-01T12:30:15")
    assert {("$.id", "format.uuid"), ("$.timestamp", "timestamp.timezone-required")} <= pairs(
        validate_statement(statement)
    )


# --------------------------------------------------------------------------- invalid statements

_TWO_ACTORS_GROUP = {
    "objectType": "Group",
    "mbox": "mailto:team@example.com",
    "openid": "https://openid.example.org/team",
}
_INVALID_1_0_3 = [
    # statement level
    ("statement-must-be-an-object", [], "type.object", "$"),
    ("statement-without-actor-is-rejected", patched(_MINIMAL, "actor", _DELETE),
     "required-property", "$.actor"),
    ("statement-without-verb-is-rejected", patched(_MINIMAL, "verb", _DELETE),
     "required-property", "$.verb"),
    ("statement-without-object-is-rejected", patched(_MINIMAL, "object", _DELETE),
     "required-property", "$.object"),
    ("statement-id-must-be-a-uuid", patched(_MINIMAL, "id", "1234"), "format.uuid", "$.id"),
    ("unknown-top-level-property-is-rejected", patched(_MINIMAL, "actr", {}),
     "unknown-property", "$.actr"),
    ("property-names-are-case-sensitive", patched(_MINIMAL, "timeStamp", "2024-05-01T12:00:00Z"),
     "unknown-property", "$.timeStamp"),
    ("null-result-is-rejected", patched(_MINIMAL, "result", None), "null-value", "$.result"),
    ("version-must-start-with-1-0", patched(_MINIMAL, "version", "0.95"),
     "statement.version", "$.version"),
    ("naive-timestamp-is-rejected", patched(_MINIMAL, "timestamp", "2024-05-01T12:30:15.123"),
     "timestamp.timezone-required", "$.timestamp"),
    ("negative-zero-offset-is-rejected", patched(_MINIMAL, "timestamp", "2024-05-01T12:30:15-00:00"),
     "timestamp.negative-zero-offset", "$.timestamp"),
    ("impossible-date-is-rejected", patched(_MINIMAL, "timestamp", "2024-02-30T12:00:00Z"),
     "format.timestamp", "$.timestamp"),
    ("stored-must-be-a-timestamp", patched(_MINIMAL, "stored", "yesterday"),
     "format.timestamp", "$.stored"),
    ("timestamp-must-be-a-string", patched(_MINIMAL, "timestamp", 1714566615),
     "type.string", "$.timestamp"),
    # agents and groups
    ("agent-with-two-identifiers-is-rejected",
     patched(_MINIMAL, "actor.openid", "https://openid.example.org/ada"), "agent.ifi-count", "$.actor"),
    ("agent-without-identifier-is-rejected", patched(_MINIMAL, "actor", {"name": "Ada"}),
     "agent.ifi-count", "$.actor"),
    ("mbox-must-be-a-mailto-iri", patched(_MINIMAL, "actor.mbox", "ada@example.com"),
     "agent.mbox-mailto", "$.actor.mbox"),
    ("mbox-sha1sum-must-be-40-hex-digits", patched(_MINIMAL, "actor", {"mbox_sha1sum": "ebd31e95"}),
     "agent.mbox-sha1sum", "$.actor.mbox_sha1sum"),
    ("openid-must-be-a-uri", patched(_MINIMAL, "actor", {"openid": "toby"}),
     "agent.openid-uri", "$.actor.openid"),
    ("account-without-home-page-is-rejected", patched(_MINIMAL, "actor", {"account": {"name": "1"}}),
     "required-property", "$.actor.account.homePage"),
    ("instructor-account-home-page-must-be-an-http-irl",
     patched(rich(), "context.instructor.account.homePage", "hr.example.com"),
     "format.irl", "$.context.instructor.account.homePage"),
    ("account-name-must-be-a-string",
     patched(_MINIMAL, "actor", {"account": {"homePage": "https://example.com", "name": 1625378}}),
     "type.string", "$.actor.account.name"),
    ("agent-name-must-be-a-string", patched(_MINIMAL, "actor.name", ["Ada"]),
     "type.string", "$.actor.name"),
    ("actor-object-type-is-case-sensitive", patched(_MINIMAL, "actor.objectType", "agent"),
     "agent.object-type", "$.actor.objectType"),
    ("unknown-agent-property-is-rejected", patched(_MINIMAL, "actor.email", "ada@example.com"),
     "unknown-property", "$.actor.email"),
    ("anonymous-group-without-member-is-rejected", patched(_MINIMAL, "actor", {"objectType": "Group"}),
     "group.anonymous-member-required", "$.actor.member"),
    ("identified-group-with-two-identifiers-is-rejected", patched(_MINIMAL, "actor", _TWO_ACTORS_GROUP),
     "group.ifi-count", "$.actor"),
    ("group-member-must-not-be-a-group",
     patched(rich(), "context.team.member.0", {"objectType": "Group", "member": []}),
     "group.member-not-agent", "$.context.team.member[0]"),
    ("group-member-needs-an-identifier", patched(rich(), "context.team.member.1", {"name": "Bo"}),
     "agent.ifi-count", "$.context.team.member[1]"),
    ("null-group-member-is-rejected", patched(rich(), "context.team.member.0", None),
     "null-value", "$.context.team.member[0]"),
    ("agent-object-needs-object-type", patched(_MINIMAL, "object", {"mbox": "mailto:c@example.com"}),
     "agent.object-type-required", "$.object.objectType"),
    ("authority-group-must-have-two-agents",
     patched(_MINIMAL, "authority", {"objectType": "Group", "member": [{"mbox": "mailto:a@x.org"}]}),
     "authority.group-members", "$.authority"),
    # verb
    ("verb-without-id-is-rejected", patched(_MINIMAL, "verb", {"display": {"en": "did"}}),
     "required-property", "$.verb.id"),
    ("verb-id-must-be-an-iri", patched(_MINIMAL, "verb.id", "completed"), "format.iri", "$.verb.id"),
    ("verb-display-must-be-a-language-map", patched(_MINIMAL, "verb.display", "completed"),
     "type.object", "$.verb.display"),
    ("language-map-keys-must-be-language-tags", patched(_MINIMAL, "verb.display", {"en_US": "did"}),
     "language-map.key", "$.verb.display.en_US"),
    ("language-map-values-must-be-strings", patched(_MINIMAL, "verb.display", {"en-US": 1}),
     "type.string", '$.verb.display["en-US"]'),
    ("language-map-values-must-not-be-null", patched(_MINIMAL, "verb.display", {"en-US": None}),
     "null-value", '$.verb.display["en-US"]'),
    # activities
    ("activity-without-id-is-rejected", patched(_MINIMAL, "object", {"objectType": "Activity"}),
     "required-property", "$.object.id"),
    ("activity-id-must-be-absolute", patched(_MINIMAL, "object.id", "courses/negotiation-101"),
     "format.iri", "$.object.id"),
    ("object-type-must-be-a-known-value", patched(_MINIMAL, "object.objectType", "activity"),
     "object.object-type", "$.object.objectType"),
    ("unknown-definition-property-is-rejected", patched(rich(), "object.definition.title", {}),
     "unknown-property", "$.object.definition.title"),
    ("activity-type-must-be-an-iri", patched(rich(), "object.definition.type", "course"),
     "format.iri", "$.object.definition.type"),
    ("more-info-must-be-an-http-irl", patched(rich(), "object.definition.moreInfo", "ftp://x.org/a"),
     "format.irl", "$.object.definition.moreInfo"),
    ("definition-name-must-be-a-language-map", patched(rich(), "object.definition.name", ["x"]),
     "type.object", "$.object.definition.name"),
    ("interaction-type-must-be-a-known-value",
     patched(_INTERACTION, "object.definition.interactionType", "multiple-choice"),
     "activity.interaction-type", "$.object.definition.interactionType"),
    ("correct-responses-pattern-must-be-an-array",
     patched(_INTERACTION, "object.definition.correctResponsesPattern", "golf"),
     "type.array", "$.object.definition.correctResponsesPattern"),
    ("correct-responses-must-be-strings",
     patched(_INTERACTION, "object.definition.correctResponsesPattern", [1]),
     "type.string", "$.object.definition.correctResponsesPattern[0]"),
    ("choices-are-not-valid-for-likert",
     patched(_INTERACTION, "object.definition.interactionType", "likert"),
     "activity.component-list", "$.object.definition.choices"),
    ("component-ids-must-be-unique",
     patched(_INTERACTION, "object.definition.choices.2.id", "golf"),
     "activity.component-id-duplicate", "$.object.definition.choices[2].id"),
    ("component-without-id-is-rejected",
     patched(_INTERACTION, "object.definition.choices.0", {"description": {"en": "x"}}),
     "required-property", "$.object.definition.choices[0].id"),
    ("component-description-must-be-a-language-map",
     patched(_INTERACTION, "object.definition.choices.1.description", "Facebook App"),
     "type.object", "$.object.definition.choices[1].description"),
    ("component-lists-need-an-interaction-type",
     patched(_INTERACTION, "object.definition.interactionType", _DELETE),
     "activity.interaction-type-required", "$.object.definition.interactionType"),
    ("extension-keys-must-be-iris", patched(rich(), "object.definition.extensions", {"color": "red"}),
     "extensions.key-iri", "$.object.definition.extensions.color"),
    # statement references and substatements
    ("statement-ref-id-must-be-a-uuid", patched(_VOIDING, "object.id", "not-a-uuid"),
     "format.uuid", "$.object.id"),
    ("statement-ref-has-no-definition", patched(_VOIDING, "object.definition", {}),
     "unknown-property", "$.object.definition"),
    ("voiding-statement-must-target-a-statement-ref",
     patched(_MINIMAL, "verb.id", "http://adlnet.gov/expapi/verbs/voided"),
     "statement.voiding-object", "$.object"),
    ("substatement-must-not-be-nested",
     patched(_SUBSTATEMENT, "object.object", copy.deepcopy(_SUBSTATEMENT["object"])),
     "substatement.nested", "$.object.object"),
    ("substatement-must-not-have-an-id", patched(_SUBSTATEMENT, "object.id", _RICH["id"]),
     "substatement.forbidden-property", "$.object.id"),
    ("substatement-must-not-have-stored",
     patched(_SUBSTATEMENT, "object.stored", "2024-05-01T12:00:00Z"),
     "substatement.forbidden-property", "$.object.stored"),
    ("substatement-needs-a-verb", patched(_SUBSTATEMENT, "object.verb", _DELETE),
     "required-property", "$.object.verb"),
    ("substatement-actor-is-validated", patched(_SUBSTATEMENT, "object.actor", {"name": "Ada"}),
     "agent.ifi-count", "$.object.actor"),
    # result
    ("scaled-score-above-one-is-rejected", patched(rich(), "result.score.scaled", 1.5),
     "result.score.scaled-range", "$.result.score.scaled"),
    ("raw-score-above-max-is-rejected", patched(rich(), "result.score.raw", 101),
     "result.score.raw-range", "$.result.score.raw"),
    ("raw-score-below-min-is-rejected", patched(rich(), "result.score.raw", -1),
     "result.score.raw-range", "$.result.score.raw"),
    ("min-score-must-be-below-max", patched(rich(), "result.score.min", 100),
     "result.score.min-max", "$.result.score.min"),
    ("numeric-strings-are-not-numbers", patched(rich(), "result.score.scaled", "0.85"),
     "type.number", "$.result.score.scaled"),
    ("booleans-are-not-numbers", patched(rich(), "result.score.raw", True),
     "type.number", "$.result.score.raw"),
    ("success-must-be-a-boolean", patched(rich(), "result.success", "true"),
     "type.boolean", "$.result.success"),
    ("completion-must-be-a-boolean", patched(rich(), "result.completion", 1),
     "type.boolean", "$.result.completion"),
    ("duration-must-be-iso-8601", patched(rich(), "result.duration", "1 hour"),
     "format.duration", "$.result.duration"),
    ("weeks-cannot-combine-with-days", patched(rich(), "result.duration", "P4W1D"),
     "format.duration", "$.result.duration"),
    ("response-must-be-a-string", patched(rich(), "result.response", 42),
     "type.string", "$.result.response"),
    ("unknown-result-property-is-rejected", patched(rich(), "result.passed", True),
     "unknown-property", "$.result.passed"),
    # context
    ("registration-must-be-a-uuid", patched(rich(), "context.registration", "reg-1"),
     "format.uuid", "$.context.registration"),
    ("team-must-be-a-group", patched(rich(), "context.team", {"mbox": "mailto:t@example.com"}),
     "context.team-group", "$.context.team"),
    ("context-activities-keys-are-fixed", patched(rich(), "context.contextActivities.parents", []),
     "unknown-property", "$.context.contextActivities.parents"),
    ("context-activities-value-must-be-activities",
     patched(rich(), "context.contextActivities.other", "https://example.com/a"),
     "type.array", "$.context.contextActivities.other"),
    ("context-activity-needs-an-id", patched(rich(), "context.contextActivities.parent.0.id", _DELETE),
     "required-property", "$.context.contextActivities.parent[0].id"),
    ("context-activity-must-be-an-activity",
     patched(rich(), "context.contextActivities.other.0.objectType", "Agent"),
     "activity.object-type", "$.context.contextActivities.other[0].objectType"),
    ("revision-requires-an-activity-object",
     patched(patched(_MINIMAL, "object", {"objectType": "Agent", "mbox": "mailto:c@example.com"}),
             "context", {"revision": "2"}),
     "context.revision-requires-activity", "$.context.revision"),
    ("platform-requires-an-activity-object", patched(_VOIDING, "context", {"platform": "LMS"}),
     "context.platform-requires-activity", "$.context.platform"),
    ("context-language-must-be-a-language-tag", patched(rich(), "context.language", "en_US"),
     "format.language-tag", "$.context.language"),
    ("context-statement-must-be-a-statement-ref",
     patched(rich(), "context.statement.objectType", "SubStatement"),
     "context.statement-ref", "$.context.statement.objectType"),
    ("context-statement-needs-an-id", patched(rich(), "context.statement.id", _DELETE),
     "required-property", "$.context.statement.id"),
    ("context-agents-are-not-part-of-1-0-3", patched(rich(), "context.contextAgents", []),
     "unknown-property", "$.context.contextAgents"),
    ("context-extension-keys-must-be-iris",
     patched(rich(), "context.extensions", {"altitude": 3000}),
     "extensions.key-iri", "$.context.extensions.altitude"),
    # attachments
    ("attachment-without-sha2-is-rejected", patched(rich(), "attachments.0.sha2", _DELETE),
     "required-property", "$.attachments[0].sha2"),
    ("attachment-without-display-is-rejected", patched(rich(), "attachments.0.display", _DELETE),
     "required-property", "$.attachments[0].display"),
    ("attachment-length-must-be-an-integer", patched(rich(), "attachments.0.length", "12345"),
     "type.integer", "$.attachments[0].length"),
    ("attachment-length-must-not-be-negative", patched(rich(), "attachments.0.length", -1),
     "attachment.length", "$.attachments[0].length"),
    ("attachment-usage-type-must-be-an-iri", patched(rich(), "attachments.0.usageType", "cert"),
     "format.iri", "$.attachments[0].usageType"),
    ("attachment-file-url-must-be-an-irl", patched(rich(), "attachments.0.fileUrl", "/cert.pdf"),
     "format.irl", "$.attachments[0].fileUrl"),
    ("attachment-content-type-must-be-a-media-type", patched(rich(), "attachments.0.contentType", "pdf"),
     "attachment.content-type", "$.attachments[0].contentType"),
    ("attachment-sha2-must-be-a-hex-digest", patched(rich(), "attachments.0.sha2", "abc"),
     "attachment.sha2", "$.attachments[0].sha2"),
    ("signature-attachment-must-be-octet-stream",
     patched(rich(), "attachments.0.usageType", "http://adlnet.gov/expapi/attachments/signature"),
     "attachment.signature-content-type", "$.attachments[0].contentType"),
    ("attachments-must-be-an-array", patched(rich(), "attachments", rich()["attachments"][0]),
     "type.array", "$.attachments"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("statement", "rule", "path"),
    [
        pytest.param(statement, rule, path, id=name)
        for name, statement, rule, path in _INVALID_1_0_3
    ],
)
def test_invalid_statement_is_rejected_with_rule_and_path(
    statement: object, rule: str, path: str
) -> None:
    problems = validate_statement(statement)
    assert (path, rule) in pairs(problems), "\n".join(map(str, problems))
    assert not is_valid(statement)
    assert all(problem.message for problem in problems)


_INVALID_2_0_0 = [
    ("single-context-activity-object-is-rejected",
     patched(_V2, "context.contextActivities.parent", {"id": "https://example.com/p"}),
     "context.context-activities-array", "$.context.contextActivities.parent"),
    ("context-agent-object-type-is-exact",
     patched(_V2, "context.contextAgents.0.objectType", "ContextAgent"),
     "context.context-agent-object-type", "$.context.contextAgents[0].objectType"),
    ("context-agent-must-hold-an-agent",
     patched(_V2, "context.contextAgents.0.agent", _V2["context"]["contextGroups"][0]["group"]),
     "context.context-agent-kind", "$.context.contextAgents[0].agent"),
    ("context-agent-needs-an-agent", patched(_V2, "context.contextAgents.0.agent", _DELETE),
     "required-property", "$.context.contextAgents[0].agent"),
    ("context-group-must-hold-a-group",
     patched(_V2, "context.contextGroups.0.group", {"mbox": "mailto:a@example.com"}),
     "context.context-group-kind", "$.context.contextGroups[0].group"),
    ("relevant-types-must-not-be-empty", patched(_V2, "context.contextGroups.0.relevantTypes", []),
     "context.relevant-types-empty", "$.context.contextGroups[0].relevantTypes"),
    ("relevant-types-must-be-iris", patched(_V2, "context.contextAgents.0.relevantTypes", ["coach"]),
     "format.iri", "$.context.contextAgents[0].relevantTypes[0]"),
    ("version-must-start-with-2-0", patched(_V2, "version", "1.0.0"),
     "statement.version", "$.version"),
    ("timestamp-must-have-seconds-in-rfc-3339", patched(_V2, "timestamp", "2024-05-01T12:30Z"),
     "format.timestamp", "$.timestamp"),
    ("naive-timestamp-is-rejected-in-2-0", patched(_V2, "timestamp", "2024-05-01T12:30:15"),
     "timestamp.timezone-required", "$.timestamp"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("statement", "rule", "path"),
    [
        pytest.param(statement, rule, path, id=name)
        for name, statement, rule, path in _INVALID_2_0_0
    ],
)
def test_invalid_2_0_statement_is_rejected_with_rule_and_path(
    statement: object, rule: str, path: str
) -> None:
    problems = validate_statement(statement, version="2.0.0")
    assert (path, rule) in pairs(problems), "\n".join(map(str, problems))


def test_context_agents_validate_under_2_0_but_not_1_0_3() -> None:
    assert is_valid(_V2, version="2.0.0")
    assert ("$.context.contextAgents", "unknown-property") in pairs(
        validate_statement(patched(_V2, "version", "1.0.0"), version="1.0.3")
    )


def test_unknown_version_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unsupported xAPI version"):
        validate_statement(_MINIMAL, version="0.95")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

_XAPI_WORDS = [
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
    "version", "attachments", "objectType", "name", "mbox", "mbox_sha1sum", "openid", "account",
    "homePage", "member", "display", "definition", "description", "type", "moreInfo",
    "extensions", "interactionType", "correctResponsesPattern", "choices", "scale", "source",
    "target", "steps", "score", "scaled", "raw", "min", "max", "success", "completion",
    "response", "duration", "registration", "instructor", "team", "contextActivities", "parent",
    "grouping", "category", "other", "revision", "platform", "language", "statement",
    "contextAgents", "contextGroups", "agent", "group", "relevantTypes", "usageType",
    "contentType", "length", "sha2", "fileUrl", "Agent", "Group", "Activity", "SubStatement",
    "StatementRef", "contextAgent", "contextGroup", "choice", "likert", "en-US",
    "http://adlnet.gov/expapi/verbs/voided", "mailto:a@example.com", "https://example.com/a",
    "2024-05-01T12:30:15Z", "PT1H", "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
]  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(_XAPI_WORDS)
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(_XAPI_WORDS) | st.text(), children, max_size=6)
    ),
    max_leaves=40,
)
_VERSION_LIST: list[XAPIVersion] = ["1.0.3", "2.0.0"]
_VERSIONS = st.sampled_from(_VERSION_LIST)
_VALID: list[tuple[Statement, XAPIVersion]] = [
    (_MINIMAL, "1.0.3"),
    (_RICH, "1.0.3"),
    (_INTERACTION, "1.0.3"),
    (_SUBSTATEMENT, "1.0.3"),
    (_VOIDING, "1.0.3"),
    (_V2, "2.0.0"),
    (_SPEC_APPENDIX_A, "1.0.3"),
]


def _json_path(path: tuple[str | int, ...]) -> str:
    text = "$"
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _IDENTIFIER.fullmatch(segment):
            text += f".{segment}"
        else:
            text += f'["{segment}"]'
    return text


def _paths(node: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every position in ``node``; dict keys named extensions are not entered."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            if key != "extensions":
                yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index)
            yield from _paths(value, (*path, index))


def _replaced(statement: Statement, path: tuple[str | int, ...], value: object) -> Statement:
    copied = copy.deepcopy(statement)
    node: Any = copied
    for segment in path[:-1]:
        node = node[segment]
    node[path[-1]] = value
    return copied


_KEY_POSITIONS = [
    (statement, version, path)
    for statement, version in _VALID
    for path in _paths(statement)
    if isinstance(path[-1], str)
]
_ALL_POSITIONS = [
    (statement, version, path) for statement, version in _VALID for path in _paths(statement)
]


def test_fixture_statements_are_valid() -> None:
    for statement, version in _VALID:
        assert validate_statement(statement, version=version) == [], statement


@given(value=_JSON, version=_VERSIONS)
def test_validate_statement_never_raises_on_arbitrary_json(
    value: object, version: XAPIVersion
) -> None:
    problems = validate_statement(value, version=version)
    assert all(isinstance(problem, Problem) for problem in problems)
    assert is_valid(value, version=version) is (not problems)


@given(position=st.sampled_from(_ALL_POSITIONS), value=_JSON)
def test_validate_statement_never_raises_when_any_part_of_a_valid_statement_is_replaced(
    position: tuple[Statement, XAPIVersion, tuple[str | int, ...]], value: object
) -> None:
    statement, version, path = position
    problems = validate_statement(_replaced(statement, path, value), version=version)
    assert all(isinstance(problem, Problem) for problem in problems)


@given(position=st.sampled_from(_KEY_POSITIONS))
def test_null_at_any_non_extension_key_is_reported(
    position: tuple[Statement, XAPIVersion, tuple[str | int, ...]],
) -> None:
    statement, version, path = position
    problems = validate_statement(_replaced(statement, path, None), version=version)
    assert (_json_path(path), "null-value") in pairs(problems), "\n".join(map(str, problems))
