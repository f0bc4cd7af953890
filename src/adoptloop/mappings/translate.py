"""Stored records -> xAPI statement drafts, per DESIGN.md's statement table.

A draft is a statement without its id: the translate stage hashes the draft, compares it
with what was emitted for the same key before, and only then assigns a revision and id. The
adoptloop version is stamped into context.extensions after hashing, so upgrading adoptloop
never re-sends history.

| kind        | verb                        | object                 |
|-------------|-----------------------------|------------------------|
| completion  | completed / passed / failed | the module (course)    |
| visit       | attended                    | the coaching visit     |
| rating      | scored                      | the capability         |
| planned     | tla planned                 | the development action |
| achieved    | tla achieved                | the development action |
| uplift      | {ns}/verbs/estimated-uplift  | the capability (actor: adoptloop itself) |
| leniency    | {ns}/verbs/estimated-leniency | the manager (actor: adoptloop itself) |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from adoptloop.domain import ERASED
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.mappings.records import (
    AdoptionTransitions,
    EstimatedLeniency,
    EstimatedUplift,
    StoredAction,
    StoredCompletion,
    StoredObservation,
)
from adoptloop.xapi import vocab
from adoptloop.xapi.canonical import local_noon, timestamp
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace, Verb


@dataclass(frozen=True, slots=True)
class Draft:
    key: str  # stable: kind/source/record[/item], each part percent-encoded (see _key)
    kind: str
    hr_id: str  # whom the statement is about (for erasure)
    body: dict[str, Any]


@dataclass(frozen=True)
class TranslateContext:
    """What translators need. Parts that recur in many statements (verbs, capability
    activities, visit-day timestamps) are built once and shared: a draft's body is never
    changed after it is made, only copied (Finalizer) and serialized."""

    ns: Namespace
    actors: Pseudonymizer
    capabilities: CapabilityMap
    language: str = "en-US"
    _shared: dict[object, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _once(self, key: object, make: Callable[[], Any]) -> Any:
        value = self._shared.get(key)
        if value is None:
            value = make()
            if len(self._shared) < 20_000:
                self._shared[key] = value
        return value

    def verb(self, verb: Verb) -> dict[str, Any]:
        made: dict[str, Any] | None = self._shared.get(("verb", verb))
        if made is None:
            made = self._once(
                ("verb", verb), lambda: {"id": verb.id, "display": {self.language: verb.display}}
            )
        return made

    def noon(self, day: date, timezone: str) -> str:
        """canonical.local_noon, remembered per (day, zone)."""
        made: str | None = self._shared.get(("noon", day, timezone))
        if made is None:
            made = self._once(("noon", day, timezone), lambda: local_noon(day, timezone))
        return made

    def system_agent(self) -> dict[str, Any]:
        """adoptloop's own agent: the actor of voiding and estimate statements."""
        made: dict[str, Any] | None = self._shared.get("system-agent")
        if made is None:
            made = self._once(
                "system-agent",
                lambda: {
                    "objectType": "Agent",
                    "account": {"homePage": self.ns.system_account_home, "name": "adoptloop"},
                },
            )
        return made

    def lang(self, text: str) -> dict[str, str]:
        return {self.language: text}

    def ext(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` (extension name -> value) keyed by the extensions' IRIs, Nones left out."""
        iris: dict[str, str] | None = self._shared.get("ext")
        if iris is None:
            iris = self._shared["ext"] = {}
        out = {}
        for name, value in values.items():
            if value is not None:
                iri = iris.get(name)
                out[iri if iri is not None else self.extension_iri(name)] = value
        return out

    def extension_iri(self, name: str) -> str:
        """The IRI of the extension `name` (Namespace.extension, remembered)."""
        iris: dict[str, str] | None = self._shared.get("ext")
        if iris is None:
            iris = self._shared["ext"] = {}
        iri = iris.get(name)
        if iri is None:
            iri = iris[name] = self.ns.extension(name)
        return iri

    def capability_activity(self, capability_id: str) -> dict[str, Any]:
        capability = self.capabilities.capabilities[capability_id]
        made: dict[str, Any] | None = self._shared.get(("capability", capability_id))
        if made is None:
            made = self._once(
                ("capability", capability_id),
                lambda: {
                    "objectType": "Activity",
                    "id": self.ns.capability(capability_id),
                    "definition": {
                        "type": self.ns.capability_type,
                        "name": self.lang(capability.name),
                    },
                },
            )
        return made


def _key(*parts: str) -> str:
    """Join key parts with '/', percent-encoding each so that a '/' inside a source name, record
    id or item cannot make two records share a key (and so a statement id). Ids made of
    letters, digits and '-', '_', '.', '~' are unchanged."""
    joined = "/".join(parts)
    if _UNRESERVED_PATH.fullmatch(joined):
        if joined.count("/") == len(parts) - 1:
            return joined  # no part has a '/' or anything else to quote
        # a part's only character to quote is '/' (an adoption state's record id is
        # "<hr_id>/<capability>"): quote(part, safe="") would give the same, at ten times the
        # cost for every such record
        return "/".join([part.replace("/", "%2F") for part in parts])
    return "/".join(part if _UNRESERVED.fullmatch(part) else quote(part, safe="") for part in parts)


# What quote(part, safe="") leaves as it is: such a part needs no quoting at all.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")


def record_ref(table: str, source: str, record_id: str) -> str:
    return _key(table, source, record_id)


def translate_completion(record: StoredCompletion, ctx: TranslateContext) -> list[Draft]:
    if record.deleted:
        return []
    verb = {"passed": vocab.PASSED, "failed": vocab.FAILED}.get(record.status, vocab.COMPLETED)
    # the module as its statements name it: one object shared by them (validated once)
    module: dict[str, Any] = ctx._once(
        ("module", record.module_id, record.module_title),
        lambda: _module_activity(record.module_id, record.module_title, ctx),
    )
    result: dict[str, Any] = {"completion": record.status != "failed"}
    if record.status in ("passed", "failed"):
        result["success"] = record.status == "passed"
    if record.score is not None:
        raw = float(record.score)
        result["score"] = {"raw": raw, "min": 0.0, "max": 100.0, "scaled": round(raw / 100, 4)}
    context: dict[str, Any] = {"extensions": ctx.ext({vocab.EXT_SOURCE: record.source})}
    # the capabilities the module teaches: one object shared by the module's statements
    taught: dict[str, Any] = ctx._once(
        ("module-capabilities", record.module_id),
        lambda: {
            "other": [
                ctx.capability_activity(c)
                for c in ctx.capabilities.capabilities_for_module(record.module_id)
            ]
        },
    )
    if taught["other"]:
        context["contextActivities"] = taught
    body = {
        "actor": ctx.actors.agent(record.hr_id),
        "verb": ctx.verb(verb),
        "object": module,
        "result": result,
        "context": context,
        "timestamp": record.completed_at,
    }
    key = _key("completion", record.source, record.record_id)
    return [Draft(key, "completion", record.hr_id, body)]


def _module_activity(module_id: str, title: str | None, ctx: TranslateContext) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": vocab.ACTIVITY_COURSE}
    if title:
        definition["name"] = ctx.lang(title)
    return {"objectType": "Activity", "id": ctx.ns.module(module_id), "definition": definition}


def translate_observation(record: StoredObservation, ctx: TranslateContext) -> list[Draft]:
    """A counted (submitted) visit: one `attended`, plus one `scored` per rating."""
    if record.deleted or not record.counted:
        return []
    source, record_id, rep = record.source, record.record_id, record.observed_hr_id
    when = ctx.noon(record.visit_date, record.timezone)
    observer = record.observer_hr_id
    # an erased manager is no longer named, not even pseudonymously
    instructor = {} if observer == ERASED else {"instructor": ctx.actors.agent(observer)}
    actor = ctx.actors.agent(rep)
    visit = {
        "objectType": "Activity",
        "id": ctx.ns.visit(source, record_id),
        "definition": {"type": vocab.ACTIVITY_MEETING, "name": ctx.lang("Coaching visit")},
    }
    visit_ext = ctx.ext(
        {
            vocab.EXT_SOURCE: source,
            vocab.EXT_VISIT_DATE: record.visit_date.isoformat(),
            vocab.EXT_TIMEZONE: record.timezone,
        }
    )
    drafts = [
        Draft(
            _key("visit", source, record_id),
            "visit",
            rep,
            {
                "actor": actor,
                "verb": ctx.verb(vocab.ATTENDED),
                "object": visit,
                "context": {
                    **instructor,
                    "extensions": {
                        **visit_ext,
                        **ctx.ext(
                            {
                                vocab.EXT_HAS_NEXT_STEP: record.has_next_step,
                                vocab.EXT_NAMES_CAPABILITY: record.names_capability,
                            }
                        ),
                    },
                },
                "timestamp": when,
            },
        )
    ]
    if not record.ratings:
        return drafts
    # the same for each rating of the visit
    parent = {"parent": [visit]}
    scored = ctx.verb(vocab.SCORED)
    item_iri = ctx.extension_iri(vocab.EXT_COACHING_ITEM)
    rating_key = _key("rating", source, record_id) + "/"
    for rating in record.ratings:
        capability = ctx.capabilities.capabilities[rating.capability_id]
        item = rating.item
        drafts.append(
            Draft(
                rating_key + (item if _UNRESERVED.fullmatch(item) else quote(item, safe="")),
                "rating",
                rep,
                {
                    "actor": actor,
                    "verb": scored,
                    "object": ctx.capability_activity(capability.id),
                    "result": {
                        "score": {
                            "raw": float(rating.raw),
                            "min": float(rating.scale_min),
                            "max": float(rating.scale_max),
                            "scaled": float(rating.scaled),
                        },
                        "success": rating.scaled >= capability.threshold,
                    },
                    "context": {
                        **instructor,
                        "contextActivities": parent,
                        "extensions": {**visit_ext, item_iri: item},
                    },
                    "timestamp": when,
                },
            )
        )
    return drafts


def translate_action(record: StoredAction, ctx: TranslateContext) -> list[Draft]:
    """`planned` when agreed; `achieved` once completed (ADL Learner Competency style pair)."""
    if record.deleted:
        return []
    source, record_id, person = record.source, record.record_id, record.hr_id
    goal = {
        "objectType": "Activity",
        "id": ctx.ns.development_action(source, record_id),
        "definition": {"type": vocab.ACTIVITY_GOAL, "name": ctx.lang("Development action")},
    }
    context: dict[str, Any] = {
        "contextActivities": {"other": [ctx.capability_activity(record.capability_id)]},
        "extensions": ctx.ext(
            {
                vocab.EXT_SOURCE: source,
                vocab.EXT_DUE_DATE: _iso(record.due_on),
            }
        ),
    }
    drafts = [
        Draft(
            _key("planned", source, record_id),
            "planned",
            person,
            {
                "actor": ctx.actors.agent(person),
                "verb": ctx.verb(vocab.PLANNED),
                "object": goal,
                "context": context,
                "timestamp": ctx.noon(record.agreed_on, "UTC"),
            },
        )
    ]
    if record.status == "completed" and record.completed_on is not None:
        drafts.append(
            Draft(
                _key("achieved", source, record_id),
                "achieved",
                person,
                {
                    "actor": ctx.actors.agent(person),
                    "verb": ctx.verb(vocab.ACHIEVED),
                    "object": goal,
                    "result": {"completion": True},
                    "context": context,
                    "timestamp": ctx.noon(record.completed_on, "UTC"),
                },
            )
        )
    return drafts


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return timestamp(value) if isinstance(value, datetime) else value.isoformat()


def translate_adoption(record: AdoptionTransitions, ctx: TranslateContext) -> list[Draft]:
    """One statement per adoption transition: adopted, sustained, regressed (on its date).

    The capability is the object; the modules that teach it are in contextActivities.other,
    so an LRS report can join training to what became of it in the field.
    """
    if record.deleted:
        return []
    hr_id, capability_id = record.hr_id, record.capability_id
    if capability_id not in ctx.capabilities.capabilities:
        raise KeyError(f"capability {capability_id!r} is no longer in the capability map")
    verbs: dict[str, Verb] = ctx._once(
        "adoption-verbs",
        lambda: {
            "adopted": ctx.ns.adopted,
            "sustained": ctx.ns.sustained,
            "regressed": ctx.ns.regressed,
        },
    )
    stated = [(state, on, verbs[state]) for state, on in record.transitions if state in verbs]
    if not stated:
        return []  # no transition gives a statement (a third of the rows at 10,000 reps)
    # shared, like every recurring part, by all the statements about the capability
    modules: list[dict[str, Any]] = ctx._once(
        ("capability-modules", capability_id),
        lambda: [
            {
                "objectType": "Activity",
                "id": ctx.ns.module(module_id),
                "definition": {"type": vocab.ACTIVITY_COURSE},
            }
            for module_id in ctx.capabilities.modules_for(capability_id)
        ],
    )
    context: dict[str, Any] = {
        "extensions": ctx.ext(
            {
                vocab.EXT_SOURCE: "adoption",
                vocab.EXT_TRAINED_ON: _iso(record.trained_at),
                vocab.EXT_WINDOW_DAYS: ctx.capabilities.window_days(capability_id),
            }
        )
    }
    if modules:
        context["contextActivities"] = {"other": modules}
    drafts = []
    seen: dict[tuple[str, date], int] = {}
    for state, on, verb in stated:
        # adopted -> regressed -> adopted on one day: the second "adopted" is its own statement
        nth = seen[state, on] = seen.get((state, on), 0) + 1
        occurrence = () if nth == 1 else (str(nth),)
        drafts.append(
            Draft(
                _key("adoption", hr_id, capability_id, state, on.isoformat(), *occurrence),
                state,
                hr_id,
                {
                    "actor": ctx.actors.agent(hr_id),
                    "verb": ctx.verb(verb),
                    "object": ctx.capability_activity(capability_id),
                    "result": {"success": state != "regressed"},
                    "context": context,
                    "timestamp": ctx.noon(on, "UTC"),
                },
            )
        )
    return drafts


def estimate_ref(kind: str, period: str) -> str:
    """The record_ref every estimate statement of one kind and period is emitted under."""
    return _key(kind, period)


def translate_uplift(record: EstimatedUplift, period: str, ctx: TranslateContext) -> Draft:
    """The uplift of one capability in one period (YYYY-MM, from the as-of date), from
    adoptloop's own agent. Key = (uplift, period, capability): a changed estimate in the same
    period is a new revision of the key (voided and re-issued), a new period a new key.
    result.success = the interval sits above zero. Timestamped noon UTC on the period's first
    day, so that a re-run with the same estimate in the same period gives the same bytes."""
    return Draft(
        _key("uplift", period, record.capability_id),
        "uplift",
        "",  # about no person
        {
            "actor": ctx.system_agent(),
            "verb": ctx.verb(ctx.ns.estimated_uplift),
            "object": ctx.capability_activity(record.capability_id),
            "result": {
                "success": record.ci_low > 0,
                "extensions": ctx.ext(
                    {
                        vocab.EXT_ESTIMATE: record.estimate,
                        vocab.EXT_CI_LOW: record.ci_low,
                        vocab.EXT_CI_HIGH: record.ci_high,
                        vocab.EXT_N_TRAINED: record.n_trained,
                        vocab.EXT_N_COMPARISON: record.n_comparison,
                        vocab.EXT_METHOD: record.method,
                    }
                ),
            },
            "context": {
                "extensions": ctx.ext(
                    {
                        vocab.EXT_SOURCE: "uplift",
                        vocab.EXT_PERIOD: period,
                        vocab.EXT_WINDOW_DAYS: ctx.capabilities.window_days(record.capability_id),
                    }
                )
            },
            "timestamp": ctx.noon(date.fromisoformat(f"{period}-01"), "UTC"),
        },
    )


def translate_leniency(record: EstimatedLeniency, period: str, ctx: TranslateContext) -> Draft:
    """A coaching manager's leniency in one period, from adoptloop's own agent; the manager
    (the object) is pseudonymous like every actor. Keyed (leniency, period, manager) like
    translate_uplift; the hr_id makes erasure void it."""
    return Draft(
        _key("leniency", period, record.manager_hr_id),
        "leniency",
        record.manager_hr_id,
        {
            "actor": ctx.system_agent(),
            "verb": ctx.verb(ctx.ns.estimated_leniency),
            "object": ctx.actors.agent(record.manager_hr_id),
            "result": {
                "extensions": ctx.ext(
                    {
                        vocab.EXT_ESTIMATE: record.leniency,
                        vocab.EXT_CI_LOW: record.ci_low,
                        vocab.EXT_CI_HIGH: record.ci_high,
                        vocab.EXT_N_RATINGS: record.n_ratings,
                        vocab.EXT_N_REPS: record.n_reps,
                    }
                ),
            },
            "context": {
                "extensions": ctx.ext({vocab.EXT_SOURCE: "raters", vocab.EXT_PERIOD: period})
            },
            "timestamp": ctx.noon(date.fromisoformat(f"{period}-01"), "UTC"),
        },
    )


Translator = Callable[[Any, TranslateContext], list[Draft]]

# Which translator turns the records of which store table into statements.
TRANSLATORS: Mapping[str, Translator] = {
    "completions": translate_completion,
    "observations": translate_observation,
    "development_actions": translate_action,
    "adoption_states": translate_adoption,
}
