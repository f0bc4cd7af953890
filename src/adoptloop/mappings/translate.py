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
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from adoptloop.domain import ERASED
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.xapi import vocab
from adoptloop.xapi.canonical import local_noon, timestamp
from adoptloop.xapi.ids import Pseudonymizer
from adoptloop.xapi.vocab import Namespace, Verb

Row = Mapping[str, Any]


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

    def lang(self, text: str) -> dict[str, str]:
        return {self.language: text}

    def ext(self, values: Mapping[str, Any]) -> dict[str, Any]:
        iris = self._shared.get("ext")
        if iris is None:
            iris = self._shared["ext"] = {}
        out = {}
        for name, value in values.items():
            if value is not None:
                iri = iris.get(name)
                if iri is None:
                    iri = iris[name] = self.ns.extension(name)
                out[iri] = value
        return out

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
    if _UNRESERVED_PATH.fullmatch(joined) and joined.count("/") == len(parts) - 1:
        return joined  # no part has a '/' or anything else to quote
    return "/".join(part if _UNRESERVED.fullmatch(part) else quote(part, safe="") for part in parts)


# What quote(part, safe="") leaves as it is: such a part needs no quoting at all.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")


def record_ref(table: str, source: str, record_id: str) -> str:
    return _key(table, source, record_id)


def translate_completion(row: Row, _children: Sequence[Row], ctx: TranslateContext) -> list[Draft]:
    if row["deleted"]:
        return []
    verb = {"passed": vocab.PASSED, "failed": vocab.FAILED}.get(row["status"], vocab.COMPLETED)
    definition: dict[str, Any] = {"type": vocab.ACTIVITY_COURSE}
    if row["module_title"]:
        definition["name"] = ctx.lang(row["module_title"])
    result: dict[str, Any] = {"completion": row["status"] != "failed"}
    if row["status"] in ("passed", "failed"):
        result["success"] = row["status"] == "passed"
    if row["score"] is not None:
        raw = float(row["score"])
        result["score"] = {"raw": raw, "min": 0.0, "max": 100.0, "scaled": round(raw / 100, 4)}
    capabilities = ctx.capabilities.capabilities_for_module(row["module_id"])
    context: dict[str, Any] = {"extensions": ctx.ext({vocab.EXT_SOURCE: row["source"]})}
    if capabilities:
        context["contextActivities"] = {"other": [ctx.capability_activity(c) for c in capabilities]}
    body = {
        "actor": ctx.actors.agent(row["hr_id"]),
        "verb": ctx.verb(verb),
        "object": {
            "objectType": "Activity",
            "id": ctx.ns.module(row["module_id"]),
            "definition": definition,
        },
        "result": result,
        "context": context,
        "timestamp": row["completed_at"],
    }
    key = _key("completion", row["source"], row["record_id"])
    return [Draft(key, "completion", row["hr_id"], body)]


def translate_observation(row: Row, ratings: Sequence[Row], ctx: TranslateContext) -> list[Draft]:
    """A counted (submitted) visit: one `attended`, plus one `scored` per mapped rating."""
    if row["deleted"] or not row["counted"]:
        return []
    source, record_id, rep = row["source"], row["record_id"], row["observed_hr_id"]
    when = ctx.noon(row["visit_date"], row["timezone"])
    observer = row["observer_hr_id"]
    # an erased manager is no longer named, not even pseudonymously
    instructor = {} if observer == ERASED else {"instructor": ctx.actors.agent(observer)}
    visit = {
        "objectType": "Activity",
        "id": ctx.ns.visit(source, record_id),
        "definition": {"type": vocab.ACTIVITY_MEETING, "name": ctx.lang("Coaching visit")},
    }
    visit_ext = {
        vocab.EXT_SOURCE: source,
        vocab.EXT_VISIT_DATE: row["visit_date"].isoformat(),
        vocab.EXT_TIMEZONE: row["timezone"],
    }
    parent = {"parent": [visit]}  # the same for each rating of the visit
    drafts = [
        Draft(
            _key("visit", source, record_id),
            "visit",
            rep,
            {
                "actor": ctx.actors.agent(rep),
                "verb": ctx.verb(vocab.ATTENDED),
                "object": visit,
                "context": {
                    **instructor,
                    "extensions": ctx.ext(
                        {
                            **visit_ext,
                            vocab.EXT_HAS_NEXT_STEP: bool(row["has_next_step"]),
                            vocab.EXT_NAMES_CAPABILITY: bool(row["names_capability"]),
                        }
                    ),
                },
                "timestamp": when,
            },
        )
    ]
    for rating in ratings:
        capability = ctx.capabilities.capabilities[rating["capability_id"]]
        scale = ctx.capabilities.rate(rating["item"], rating["raw"]).scale
        drafts.append(
            Draft(
                _key("rating", source, record_id, rating["item"]),
                "rating",
                rep,
                {
                    "actor": ctx.actors.agent(rep),
                    "verb": ctx.verb(vocab.SCORED),
                    "object": ctx.capability_activity(capability.id),
                    "result": {
                        "score": {
                            "raw": float(rating["raw"]),
                            "min": float(scale.min),
                            "max": float(scale.max),
                            "scaled": float(rating["scaled"]),
                        },
                        "success": rating["scaled"] >= capability.threshold,
                    },
                    "context": {
                        **instructor,
                        "contextActivities": parent,
                        "extensions": ctx.ext(
                            {**visit_ext, vocab.EXT_COACHING_ITEM: rating["item"]}
                        ),
                    },
                    "timestamp": when,
                },
            )
        )
    return drafts


def translate_action(row: Row, _children: Sequence[Row], ctx: TranslateContext) -> list[Draft]:
    """`planned` when agreed; `achieved` once completed (ADL Learner Competency style pair)."""
    if row["deleted"]:
        return []
    source, record_id, person = row["source"], row["record_id"], row["hr_id"]
    goal = {
        "objectType": "Activity",
        "id": ctx.ns.development_action(source, record_id),
        "definition": {"type": vocab.ACTIVITY_GOAL, "name": ctx.lang("Development action")},
    }
    context: dict[str, Any] = {
        "contextActivities": {"other": [ctx.capability_activity(row["capability_id"])]},
        "extensions": ctx.ext(
            {
                vocab.EXT_SOURCE: source,
                vocab.EXT_DUE_DATE: _iso(row["due_on"]),
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
                "timestamp": ctx.noon(row["agreed_on"], "UTC"),
            },
        )
    ]
    if row["status"] == "completed" and row["completed_on"] is not None:
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
                    "timestamp": ctx.noon(row["completed_on"], "UTC"),
                },
            )
        )
    return drafts


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return timestamp(value) if isinstance(value, datetime) else value.isoformat()


def translate_adoption(row: Row, _children: Sequence[Row], ctx: TranslateContext) -> list[Draft]:
    """One statement per adoption transition: adopted, sustained, regressed (on its date).

    The capability is the object; the modules that teach it are in contextActivities.other,
    so an LRS report can join training to what became of it in the field.
    """
    if row["deleted"]:
        return []
    hr_id, capability_id = row["hr_id"], row["capability_id"]
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
                vocab.EXT_TRAINED_ON: _iso(row["trained_at"]),
                vocab.EXT_WINDOW_DAYS: ctx.capabilities.window_days(capability_id),
            }
        )
    }
    if modules:
        context["contextActivities"] = {"other": modules}
    drafts = []
    for state, on in json.loads(row["transitions"]):
        verb = verbs.get(state)
        if verb is None:
            continue
        drafts.append(
            Draft(
                _key("adoption", hr_id, capability_id, state, on),
                state,
                hr_id,
                {
                    "actor": ctx.actors.agent(hr_id),
                    "verb": ctx.verb(verb),
                    "object": ctx.capability_activity(capability_id),
                    "result": {"success": state != "regressed"},
                    "context": context,
                    "timestamp": ctx.noon(date.fromisoformat(on), "UTC"),
                },
            )
        )
    return drafts


Translator = Callable[[Row, Sequence[Row], TranslateContext], Iterable[Draft]]

# Which translator turns which store table into statements.
TRANSLATORS: Mapping[str, Translator] = {
    "completions": translate_completion,
    "observations": translate_observation,
    "development_actions": translate_action,
    "adoption_states": translate_adoption,
}
