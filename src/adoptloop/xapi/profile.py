"""The xAPI Profile (JSON-LD, xAPI Profiles 1.0) for the concepts adoptloop uses.

The customer publishes it at `{namespace}/profile` so LRS report builders can look up what
each verb, activity type and extension means. Registered concepts (ADL, TLA, tincanapi.com)
are referenced by templates, not redefined; the ones no registry has live in the customer's
namespace and are defined here. Every statement kind adoptloop makes has a Statement
Template, and `match` checks a statement against its template's rules (used by the tests and
by `adoptloop xapi validate --profile`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adoptloop import __version__
from adoptloop.xapi import vocab
from adoptloop.xapi.vocab import Namespace, Verb

PROFILE_CONTEXT = "https://w3id.org/xapi/profiles/context"
CONFORMS_TO = "https://w3id.org/xapi/profiles#1.0"
EN = "en"

_EXTENSIONS: Mapping[str, str] = {
    vocab.EXT_VERSION: "The version of adoptloop that made the statement.",
    vocab.EXT_SOURCE: "The configured name of the source the record came from (e.g. crm).",
    vocab.EXT_VISIT_DATE: "The local calendar date (YYYY-MM-DD) of the coaching visit.",
    vocab.EXT_TIMEZONE: "The IANA time zone the visit date is local to.",
    vocab.EXT_COACHING_ITEM: "The coaching-report item (field or question id) that carried the rating.",
    vocab.EXT_HAS_NEXT_STEP: "Whether the coaching report records an agreed next step.",
    vocab.EXT_NAMES_CAPABILITY: "Whether the coaching comments name a mapped capability (the text itself is never sent).",
    vocab.EXT_DUE_DATE: "The date a development action is due (YYYY-MM-DD).",
    vocab.EXT_TRAINED_ON: "The date (YYYY-MM-DD) the rep first completed a module teaching the capability.",
    vocab.EXT_WINDOW_DAYS: "The adoption window in days after training for the capability.",
    vocab.EXT_PERIOD: "The calendar month (YYYY-MM) an estimate statement stands for.",
}

# result extensions of the estimate statements (uplift and leniency)
_RESULT_EXTENSIONS: Mapping[str, str] = {
    vocab.EXT_ESTIMATE: "The estimate: for uplift, the effect of training on the share of a "
    "trained rep's ratings of the capability that are proficient (-1..1); for leniency, how much "
    "higher the manager rates than the region's average rater on the 0..1 scale.",
    vocab.EXT_CI_LOW: "The lower end of the estimate's 95 % interval.",
    vocab.EXT_CI_HIGH: "The upper end of the estimate's 95 % interval.",
    vocab.EXT_N_TRAINED: "Trained reps with a rated period in their window after training.",
    vocab.EXT_N_COMPARISON: "Reps not yet trained in the same weeks the estimate compares with.",
    vocab.EXT_N_RATINGS: "Ratings the manager gave in the year before the as-of date.",
    vocab.EXT_N_REPS: "Reps the manager rated in the year before the as-of date.",
    vocab.EXT_METHOD: "The estimator (imputation-did: Borusyak, Jaravel and Spiess 2024).",
}


@dataclass(frozen=True)
class Rule:
    location: str
    presence: str | None = None  # included | excluded | recommended
    any: tuple[Any, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"location": self.location}
        if self.presence:
            out["presence"] = self.presence
        if self.any:
            out["any"] = list(self.any)
        return out


@dataclass(frozen=True)
class Template:
    slug: str
    label: str
    definition: str
    verb: Verb
    object_type: str | None  # objectActivityType; None for StatementRef objects
    rules: tuple[Rule, ...]
    parent_types: tuple[str, ...] = ()
    other_types: tuple[str, ...] = ()


def _common(ns: Namespace) -> tuple[Rule, ...]:
    return (
        Rule("$.id", "included"),
        Rule("$.timestamp", "included"),
        Rule("$.actor.objectType", "included", ("Agent",)),
        Rule("$.actor.account.name", "included"),
        Rule("$.actor.mbox", "excluded"),
        Rule("$.actor.mbox_sha1sum", "excluded"),
        Rule("$.actor.name", "excluded"),
        Rule(f"$.context.extensions['{ns.extension(vocab.EXT_VERSION)}']", "included"),
    )


def templates(ns: Namespace) -> list[Template]:
    common = _common(ns)
    source = Rule(f"$.context.extensions['{ns.extension(vocab.EXT_SOURCE)}']", "included")
    # the manager, unless erased (then the statement was re-issued without an instructor)
    instructor = Rule("$.context.instructor.account.name", "recommended")
    out = [
        Template(
            f"module-{verb.display}",
            f"Module {verb.display}",
            f"A rep {verb.display} a training module in the LMS.",
            verb,
            vocab.ACTIVITY_COURSE,
            (*common, source, Rule("$.result.completion", "included")),
        )
        for verb in (vocab.COMPLETED, vocab.PASSED, vocab.FAILED)
    ]
    out += [
        Template(
            "coaching-visit",
            "Coaching visit",
            "A rep was observed by their manager on a submitted coaching visit (ride-along).",
            vocab.ATTENDED,
            vocab.ACTIVITY_MEETING,
            (
                *common,
                source,
                instructor,
                Rule(f"$.context.extensions['{ns.extension(vocab.EXT_VISIT_DATE)}']", "included"),
            ),
        ),
        Template(
            "capability-rated",
            "Capability rated",
            "A manager rated a rep's capability on a coaching visit; success means proficient.",
            vocab.SCORED,
            ns.capability_type,
            (
                *common,
                instructor,
                Rule("$.result.score.scaled", "included"),
                Rule("$.result.score.raw", "included"),
                Rule("$.result.success", "included"),
                Rule(
                    f"$.context.extensions['{ns.extension(vocab.EXT_COACHING_ITEM)}']", "included"
                ),
            ),
            parent_types=(vocab.ACTIVITY_MEETING,),
        ),
        Template(
            "development-action-planned",
            "Development action agreed",
            "A rep and their manager agreed a development action on a capability.",
            vocab.PLANNED,
            vocab.ACTIVITY_GOAL,
            (*common, source),
            other_types=(ns.capability_type,),
        ),
        Template(
            "development-action-achieved",
            "Development action done",
            "A rep completed an agreed development action.",
            vocab.ACHIEVED,
            vocab.ACTIVITY_GOAL,
            (*common, source, Rule("$.result.completion", "included", (True,))),
            other_types=(ns.capability_type,),
        ),
    ]
    out += [
        Template(
            f"capability-{verb.display}",
            f"Capability {verb.display}",
            f"The rep's adoption state of a trained capability became {verb.display}.",
            verb,
            ns.capability_type,
            (*common, Rule("$.context.contextActivities.other[*].id", "recommended")),
            other_types=(vocab.ACTIVITY_COURSE,),
        )
        for verb in (ns.adopted, ns.sustained, ns.regressed)
    ]
    system = Rule("$.actor.account.name", "included", ("adoptloop",))
    result = tuple(
        Rule(f"$.result.extensions['{ns.extension(name)}']", "included")
        for name in (vocab.EXT_ESTIMATE, vocab.EXT_CI_LOW, vocab.EXT_CI_HIGH)
    )
    period = Rule(f"$.context.extensions['{ns.extension(vocab.EXT_PERIOD)}']", "included")
    out += [
        Template(
            "capability-uplift",
            "Capability uplift estimated",
            "adoptloop estimated what training caused on a capability in a month: the effect on "
            "the share of trained reps' ratings that are proficient, against reps not yet "
            "trained, with its 95 % interval; success means the interval sits above zero.",
            ns.estimated_uplift,
            ns.capability_type,
            (*common, system, *result, period, Rule("$.result.success", "included")),
        ),
        Template(
            "rater-leniency",
            "Rater leniency estimated",
            "adoptloop estimated a coaching manager's leniency in a month, adjusted for whom "
            "and when they rated, with its 95 % interval; the manager is the object.",
            ns.estimated_leniency,
            None,
            (
                *common,
                system,
                *result,
                period,
                Rule("$.object.objectType", "included", ("Agent",)),
                Rule("$.object.account.name", "included"),
                Rule("$.object.mbox", "excluded"),
                Rule("$.object.name", "excluded"),
            ),
        ),
    ]
    out.append(
        Template(
            "statement-voided",
            "Statement voided",
            "A statement adoptloop sent earlier is void: its source record changed or was deleted.",
            vocab.VOIDED,
            None,
            (
                Rule("$.object.objectType", "included", ("StatementRef",)),
                Rule("$.actor.account.name", "included", ("adoptloop",)),
                Rule("$.timestamp", "included"),
            ),
        )
    )
    return out


def build_profile(
    namespace: str, *, generated_at: str, organisation: str = "adoptloop"
) -> dict[str, Any]:
    ns = Namespace(namespace)
    profile_id = f"{ns.base}/profile"
    version_id = f"{profile_id}/v{__version__}"

    def concept(iri: str, kind: str, label: str, definition: str) -> dict[str, Any]:
        return {
            "id": iri,
            "type": kind,
            "inScheme": version_id,
            "prefLabel": {EN: label},
            "definition": {EN: definition},
        }

    concepts = [
        concept(
            ns.adopted.id,
            "Verb",
            "adopted",
            "First rated proficient in the field on a capability after training on it.",
        ),
        concept(
            ns.sustained.id,
            "Verb",
            "sustained",
            "Rated proficient again 30 to 180 days after adopting the capability.",
        ),
        concept(
            ns.regressed.id,
            "Verb",
            "regressed",
            "Rated below the proficiency threshold twice in a row after adopting.",
        ),
        concept(
            ns.capability_type,
            "ActivityType",
            "capability",
            "A field capability L&D trains and managers rate, e.g. objection handling.",
        ),
    ]
    for verb, definition in (
        (ns.estimated_uplift, "adoptloop estimated the uplift training caused on a capability."),
        (ns.estimated_leniency, "adoptloop estimated a coaching manager's rater leniency."),
    ):
        concepts.append(concept(verb.id, "Verb", verb.display, definition))
    for name, definition in _EXTENSIONS.items():
        concepts.append(concept(ns.extension(name), "ContextExtension", name, definition))
    for name, definition in _RESULT_EXTENSIONS.items():
        concepts.append(concept(ns.extension(name), "ResultExtension", name, definition))
    statement_templates = []
    for template in templates(ns):
        entry: dict[str, Any] = {
            "id": f"{profile_id}/templates/{template.slug}",
            "type": "StatementTemplate",
            "inScheme": version_id,
            "prefLabel": {EN: template.label},
            "definition": {EN: template.definition},
            "verb": template.verb.id,
            "rules": [rule.as_json() for rule in template.rules],
        }
        if template.object_type:
            entry["objectActivityType"] = template.object_type
        if template.parent_types:
            entry["contextParentActivityType"] = list(template.parent_types)
        if template.other_types:
            entry["contextOtherActivityType"] = list(template.other_types)
        statement_templates.append(entry)
    return {
        "@context": PROFILE_CONTEXT,
        "id": profile_id,
        "type": "Profile",
        "conformsTo": CONFORMS_TO,
        "prefLabel": {EN: "adoptloop: training applied in the field"},
        "definition": {
            EN: "Statements about training completions, coaching observations, capability "
            "ratings, development actions and the adoption of trained capabilities in the field."
        },
        "author": {"type": "Organization", "name": organisation},
        "versions": [{"id": version_id, "generatedAtTime": generated_at}],
        "concepts": concepts,
        "templates": statement_templates,
    }


# --- matching statements to templates ------------------------------------------------------------

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[(\d+)\]|\[\*\]")


def select(document: Any, path: str) -> list[Any]:
    """Evaluate the JSONPath subset Statement Template rules use: $.a.b, ['k'], [0], [*]."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath must start with $: {path!r}")
    values = [document]
    position = 1
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise ValueError(f"unsupported JSONPath at {path[position:]!r}")
        position = step.end()
        key = step.group(1) or step.group(2)
        values = list(_step(values, key, step.group(3), star=step.group(0) == "[*]"))
    return values


def _step(
    values: Sequence[Any], key: str | None, index: str | None, *, star: bool
) -> Iterator[Any]:
    for value in values:
        if star and isinstance(value, list):
            yield from value
        elif star and isinstance(value, dict):
            yield from value.values()
        elif key is not None and isinstance(value, dict) and key in value:
            yield value[key]
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            yield value[int(index)]


def _activity_types(statement: Mapping[str, Any], kind: str) -> set[str]:
    return set(select(statement, f"$.context.contextActivities.{kind}[*].definition.type"))


def match(profile: Mapping[str, Any], statement: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The id of the template whose determining properties the statement has, and rule failures."""
    object_type = (statement.get("object") or {}).get("definition", {}).get("type")
    for template in profile["templates"]:
        if template["verb"] != statement.get("verb", {}).get("id"):
            continue
        if template.get("objectActivityType", object_type) != object_type:
            continue
        problems = [f"{template['id']}: {p}" for p in _check_rules(template, statement)]
        for key, kind in (
            ("contextParentActivityType", "parent"),
            ("contextOtherActivityType", "other"),
        ):
            missing = set(template.get(key, ())) - _activity_types(statement, kind)
            if missing:
                problems.append(
                    f"{template['id']}: context {kind} lacks activity type(s) {sorted(missing)}"
                )
        return template["id"], problems
    return None, ["no statement template has this verb and object activity type"]


def _check_rules(template: Mapping[str, Any], statement: Mapping[str, Any]) -> Iterator[str]:
    for rule in template.get("rules", ()):
        found = select(statement, rule["location"])
        presence = rule.get("presence")
        if presence == "included" and not found:
            yield f"{rule['location']} must be included"
        if presence == "excluded" and found:
            yield f"{rule['location']} must be excluded"
        allowed = rule.get("any")
        if allowed and found and not set(map(repr, found)) & set(map(repr, allowed)):
            yield f"{rule['location']} must be one of {allowed}"
