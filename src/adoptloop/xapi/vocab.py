"""The xAPI vocabulary adoptloop uses, as typed constants.

Registered IRIs (ADL, TLA, tincanapi.com registry) are used where one fits; the concepts no
registry has ("adopted", the capability activity type, our extensions) live under the
customer's own namespace (config `xapi.namespace`), for which `adoptloop xapi profile`
generates the xAPI Profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class Verb:
    id: str
    display: str


COMPLETED: Final = Verb("http://adlnet.gov/expapi/verbs/completed", "completed")
PASSED: Final = Verb("http://adlnet.gov/expapi/verbs/passed", "passed")
FAILED: Final = Verb("http://adlnet.gov/expapi/verbs/failed", "failed")
ATTENDED: Final = Verb("http://adlnet.gov/expapi/verbs/attended", "attended")
SCORED: Final = Verb("http://adlnet.gov/expapi/verbs/scored", "scored")
VOIDED: Final = Verb("http://adlnet.gov/expapi/verbs/voided", "voided")
PLANNED: Final = Verb("https://w3id.org/xapi/tla/verbs/planned", "planned")
ACHIEVED: Final = Verb("https://w3id.org/xapi/tla/verbs/achieved", "achieved")

ACTIVITY_COURSE: Final = "http://adlnet.gov/expapi/activities/course"
ACTIVITY_MEETING: Final = "http://adlnet.gov/expapi/activities/meeting"
ACTIVITY_GOAL: Final = "http://id.tincanapi.com/activitytype/goal"


# What quote(part, safe="") leaves as it is: such a part needs no quoting at all.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


class Namespace:
    """IRIs under the customer's namespace, e.g. https://xapi.example-pharma.com/adoptloop."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._known: dict[tuple[str, ...], str] = {}

    def _iri(self, *parts: str) -> str:
        quoted = (p if _UNRESERVED.fullmatch(p) else quote(p, safe="") for p in parts)
        return "/".join([self.base, *quoted])

    def _recurring(self, *parts: str) -> str:
        """`_iri` for IRIs that recur in many statements (extensions, capabilities, modules)."""
        iri = self._known.get(parts)
        if iri is None:
            iri = self._iri(*parts)
            if len(self._known) < 10_000:
                self._known[parts] = iri
        return iri

    # verbs of the adoption loop
    @property
    def adopted(self) -> Verb:
        return Verb(self._iri("verbs", "adopted"), "adopted")

    @property
    def sustained(self) -> Verb:
        return Verb(self._iri("verbs", "sustained"), "sustained")

    @property
    def regressed(self) -> Verb:
        return Verb(self._iri("verbs", "regressed"), "regressed")

    # verbs of what training caused (the system's own estimates, adoption/uplift.py, raters.py)
    @property
    def estimated_uplift(self) -> Verb:
        return Verb(self._iri("verbs", "estimated-uplift"), "estimated uplift")

    @property
    def estimated_leniency(self) -> Verb:
        return Verb(self._iri("verbs", "estimated-leniency"), "estimated leniency")

    # activity types
    @property
    def capability_type(self) -> str:
        return self._recurring("activity-types", "capability")

    # activities
    def module(self, module_id: str) -> str:
        return self._recurring("activities", "module", module_id)

    def visit(self, source: str, record_id: str) -> str:
        return self._iri("activities", "coaching-visit", source, record_id)

    def capability(self, capability_id: str) -> str:
        return self._recurring("activities", "capability", capability_id)

    def development_action(self, source: str, record_id: str) -> str:
        return self._iri("activities", "development-action", source, record_id)

    # extensions
    def extension(self, name: str) -> str:
        return self._recurring("extensions", name)

    @property
    def system_account_home(self) -> str:
        return self.base


EXT_VERSION: Final = "adoptloop-version"
EXT_SOURCE: Final = "source"
EXT_VISIT_DATE: Final = "visit-date"
EXT_TIMEZONE: Final = "timezone"
EXT_COACHING_ITEM: Final = "coaching-item"
EXT_HAS_NEXT_STEP: Final = "has-next-step"
EXT_NAMES_CAPABILITY: Final = "names-capability"
EXT_DUE_DATE: Final = "due-date"
EXT_TRAINED_ON: Final = "trained-on"
EXT_WINDOW_DAYS: Final = "window-days"
EXT_PERIOD: Final = "period"
# result extensions of the estimate statements (uplift, leniency)
EXT_ESTIMATE: Final = "estimate"
EXT_CI_LOW: Final = "ci-low"
EXT_CI_HIGH: Final = "ci-high"
EXT_N_TRAINED: Final = "n-trained"
EXT_N_COMPARISON: Final = "n-comparison"
EXT_N_RATINGS: Final = "n-ratings"
EXT_N_REPS: Final = "n-reps"
EXT_METHOD: Final = "method"
