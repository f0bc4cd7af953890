"""The synthetic org model behind :mod:`bench.synthetic`.

Every random draw comes from a ``random.Random`` seeded with a string built from the spec seed
and a person's id, so each person's rows are a pure function of (spec, person): any file can be
written in one streaming pass, in any order, and the same spec always gives the same bytes.
Only integer and ``random()`` arithmetic is used (no libm), so the output is portable too.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from math import floor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bench.synthetic.spec import OrgSpec

# (module id, title, capability index, has an assessment with a score)
MODULES: tuple[tuple[str, str, int, bool], ...] = (
    ("MOD-OPEN-101", "Opening the call", 0, False),
    ("MOD-NEEDS-101", "Needs assessment", 1, False),
    ("MOD-OBJ-101", "Objection handling essentials", 2, True),
    ("MOD-OBJ-201", "Advanced objection handling", 2, True),
    ("MOD-CLIN-101", "Discussing clinical data", 3, True),
    ("MOD-CLOSE-101", "Closing with a commitment", 4, False),
    ("MOD-COMP-101", "Compliant promotion", 5, True),
)
_COMPLIANCE_MODULE = 6
# Same order as the *_Rating__c columns of coaching_reports.csv.
CAPABILITIES = (
    "opening",
    "needs-assessment",
    "objection-handling",
    "clinical-data",
    "closing",
    "compliant-promotion",
)
_LABELS = (
    "opening",
    "needs assessment",
    "objection handling",
    "clinical data",
    "close",
    "compliance",
)

_FIRST = (
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Katrin",
    "Luca", "Maya", "Noah", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Ulrich", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Amira", "Bruno", "Chloe", "Dmitri", "Emma", "Finn", "Greta",
    "Henrik", "Ines", "Jakob", "Lena", "Marco", "Nina", "Oscar",
)  # fmt: skip
_LAST = (
    "Adler", "Brennan", "Castro", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ivanova",
    "Jensen", "Keller", "Lambert", "Moreau", "Novak", "O'Neill", "Petit", "Quint", "Rossi",
    "Schmidt", "Torres", "Ulrich", "Varga", "Weber", "Young", "Zimmer", "Bauer", "Conti", "Dahl",
    "Evans", "Fontaine", "Gruber", "Hansen", "Iglesias", "Kowalski", "Lindqvist", "Martin",
    "Nielsen", "Olsen", "Ricci", "Silva",
)  # fmt: skip
_COUNTRIES = (("GB", "IE"), ("ES", "IT"), ("FR", "BE"), ("DE", "AT"), ("NL", "DK"))
_BUSINESS_UNITS = ("Oncology", "Cardiometabolic", "Respiratory")
_COMMENTS = (
    "Good rapport with the HCP; the {cap} needs more structure.",
    "Strong {cap}, well prepared for the visit.",
    'HCP asked "what about elderly patients?" and the {cap} handled it calmly.',
    "Rushed the {cap}, ran out of time before the close.",
    "Solid visit overall, the {cap} was the highlight.",
    'Used the "three questions" approach in the {cap}, which worked well.',
    "Quiet call, HCP was distracted; the {cap} was still clear.",
    "Needs to slow down during the {cap}.",
)
_NEXT_STEPS = (
    "Practise the {cap} with a peer before the next ride-along.",
    "Revisit the e-learning module on {cap}.",
    "Book a 30-minute role play on {cap}.",
    "Prepare two open questions for each call.",
    "Shadow a senior colleague for one day.",
)
_SF_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

# Per block of 80 field staff: which position gets which history (days after spec.start).
_BLOCK = 80
_TEAM_MOVE = (5, 45)
_REGION_MOVE = (22, 90)
_TERMINATED = (41, 134)
_HIRED = {26: 11, 58: 39, 79: 60}


def rng_for(spec: OrgSpec, *parts: object) -> random.Random:
    """A generator for one purpose and one person; string seeds are hashed with SHA-512."""
    return random.Random("/".join([str(spec.seed), *map(str, parts)]))


def picked(seed: int, name: str, index: int) -> float:
    """A uniform number in [0, 1) for row `index` of file `name`: cheap, portable, seeded."""
    x = (seed * 0x9E3779B97F4A7C15 + zlib.crc32(name.encode()) * 0xBF58476D1CE4E5B9 + index) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64  # splitmix64's finaliser
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return ((x ^ (x >> 31)) >> 11) / float(1 << 53)


_M64 = (1 << 64) - 1


def unknown_user(spec: OrgSpec, number: int) -> str:
    """One of a small pool of CRM users that no HR record matches (about one per 1,000 reps)."""
    pool = max(1, spec.reps // 1000)
    return sf_id("005", 7_777_777 + (number % pool) * 104_729, pod="1t")


def sf_id(prefix: str, number: int, pod: str = "5g") -> str:
    """An 18-character Salesforce id: prefix + pod + reserved 0 + 9 base-62 digits + checksum."""
    digits = ""
    for _ in range(9):
        number, rest = divmod(number, 62)
        digits = _SF_ALPHABET[rest] + digits
    id15 = f"{prefix}{pod}0{digits}"
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        flags = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += _SF_SUFFIX[flags]
    return id15 + suffix


def stamp(day: date, minutes: int) -> datetime:
    """UTC instant ``minutes`` after midnight of ``day`` (may roll into later days)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)


def export_instant(spec: OrgSpec) -> datetime:
    """When the customer's nightly extract was taken: ten days after the coaching period."""
    return stamp(spec.end + timedelta(days=10), 6 * 60)


@dataclass(frozen=True)
class Segment:
    """One effective-dated HRIS row."""

    valid_from: date
    manager: Person | None
    region: str
    country: str
    territory: str
    status: str = "active"
    termination_date: date | None = None


@dataclass(eq=False)
class Person:
    index: int
    hr_id: str
    employee_number: str
    first_name: str
    last_name: str
    email: str
    role: str
    business_unit: str
    hire_date: date
    segments: list[Segment]
    leniency: float = 0.0

    @cached_property
    def user_id(self) -> str:
        return sf_id("005", 100_000_000 + self.index * 104_729)

    @property
    def lms_id(self) -> str:
        return f"u{4001 + 3 * self.index}"

    @property
    def left_on(self) -> date | None:
        return self.segments[-1].termination_date

    def on(self, day: date) -> Segment:
        """The HRIS row in effect on ``day`` (the first row before the hire date)."""
        current = self.segments[0]
        for seg in self.segments:
            if seg.valid_from <= day:
                current = seg
        return current


@dataclass(frozen=True)
class Org:
    people: list[Person]
    field: list[Person]


def build_org(spec: OrgSpec) -> Org:
    """Directors (one per region), first-line managers, then field staff, in hr_id order."""
    people: list[Person] = []
    used: set[str] = set()
    first_hire = date(spec.start.year - 7, 1, 1)
    hire_span = (spec.start - first_hire).days - 1

    def add(role: str, unit: str, region: int, territory: str, boss: Person | None) -> Person:
        index = len(people)
        rng = rng_for(spec, "person", index)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        base = f"{first}.{last}".lower().replace("'", "")
        email, n = base, 1
        while email in used:
            n += 1
            email = f"{base}{n}"
        used.add(email)
        hired = first_hire + timedelta(days=rng.randint(0, hire_span))
        countries = _COUNTRIES[region % len(_COUNTRIES)]
        country = rng.choice(countries) if role not in {"regional_director"} else countries[0]
        seg = Segment(hired, boss, spec.regions[region], country, territory)
        person = Person(
            index, f"E{10001 + index}", str(100001 + index), first, last,
            f"{email}@example-pharma.com", role, unit, hired, [seg],
        )  # fmt: skip
        people.append(person)
        return person

    letters = [name[0].upper() for name in spec.regions]
    directors = [
        add("regional_director", "Commercial", r, letters[r], None)
        for r in range(len(spec.regions))
    ]
    n_managers = -(-spec.reps // spec.reps_per_manager)
    managers: list[Person] = []
    for m in range(n_managers):
        region = m * len(spec.regions) // n_managers
        unit = _BUSINESS_UNITS[m % len(_BUSINESS_UNITS)]
        manager = add(
            "first_line_manager", unit, region, f"{letters[region]}-D{m + 1:02d}", directors[region]
        )
        manager.leniency = {0: 0.9, 1: -0.9}.get(
            m % 10, (rng_for(spec, "rater", m).random() - 0.5) * 0.5
        )
        managers.append(manager)
    by_region = {
        r: [m for m in managers if m.segments[0].region == spec.regions[r]]
        for r in range(len(spec.regions))
    }
    territories = dict.fromkeys(range(len(spec.regions)), 0)

    def territory(region: int) -> str:
        territories[region] += 1
        return f"{letters[region]}-{territories[region]:02d}"

    field: list[Person] = []
    for i in range(spec.reps):
        manager = managers[min(i // spec.reps_per_manager, n_managers - 1)]
        region = spec.regions.index(manager.segments[0].region)
        role = {7: "msl", 13: "kam"}.get(i % 20, "rep")
        person = add(role, manager.business_unit, region, territory(region), manager)
        field.append(person)
        first, slot = person.segments[0], i % _BLOCK
        if slot in _HIRED:
            hired = min(spec.start + timedelta(days=_HIRED[slot]), spec.training_end)
            person.hire_date = hired
            person.segments[0] = replace(first, valid_from=hired)
        elif slot == _TEAM_MOVE[0] and len(team := by_region[region]) > 1:
            new = team[(team.index(manager) + 1) % len(team)]
            when = spec.start + timedelta(days=_TEAM_MOVE[1])
            person.segments.append(replace(first, valid_from=when, manager=new))
        elif slot == _REGION_MOVE[0]:
            n = len(spec.regions)
            others = [(region + r) % n for r in range(1, n) if by_region[(region + r) % n]]
            if others:
                to = others[0]
                when = spec.start + timedelta(days=_REGION_MOVE[1])
                country = _COUNTRIES[to % len(_COUNTRIES)][0]
                new = by_region[to][i // _BLOCK % len(by_region[to])]
                seg = Segment(when, new, spec.regions[to], country, territory(to))
                person.segments.append(seg)
        elif slot == _TERMINATED[0]:
            when = min(spec.start + timedelta(days=_TERMINATED[1]), spec.end)
            person.segments.append(
                replace(first, valid_from=when, status="terminated", termination_date=when)
            )
    return Org(people, field)


@dataclass(frozen=True)
class Completion:
    at: datetime
    module: int
    status: str
    score: str


def completions_for(person: Person, spec: OrgSpec) -> list[Completion]:
    """3-6 modules completed in [max(start, hire), training_end]; some assessments failed."""
    rng = rng_for(spec, "lms", person.hr_id)
    opens = max(spec.start, person.hire_date)
    span = (spec.training_end - opens).days
    if span < 0:
        return []
    wanted = rng.randint(3, 6)
    chosen = [_COMPLIANCE_MODULE] if rng.random() < 0.9 else []
    others = [m for m in range(len(MODULES)) if m not in chosen]
    chosen += rng.sample(others, wanted - len(chosen))
    out: list[Completion] = []
    for module in chosen:
        day = opens + timedelta(days=rng.randint(0, span))
        at = stamp(day, rng.randint(8 * 12, 18 * 12) * 5)
        if not MODULES[module][3]:
            out.append(Completion(at, module, "completed", ""))
            continue
        score = rng.randint(62, 100)
        out.append(Completion(at, module, "passed" if score >= 70 else "failed", str(score)))
        retake = day + timedelta(days=rng.randint(3, 14))
        if score < 70 and rng.random() < 0.75 and retake <= spec.training_end:
            at = stamp(retake, rng.randint(8 * 12, 18 * 12) * 5)
            out.append(Completion(at, module, "passed", str(rng.randint(70, 100))))
    out.sort(key=lambda c: (c.at, c.module))
    return out


def trained_on(completions: list[Completion]) -> dict[int, date]:
    """Capability index -> first day the person completed or passed a module teaching it."""
    trained: dict[int, date] = {}
    for c in completions:
        capability = MODULES[c.module][2]
        if c.status != "failed" and capability not in trained:
            trained[capability] = c.at.date()
    return trained


@dataclass(frozen=True)
class Action:
    capability: str
    due: date
    completed: date | None
    status: str


@dataclass(frozen=True)
class Report:
    day: date
    manager: Person
    status: str
    submitted: datetime | None
    modstamp: datetime
    ratings: list[int | None]
    comment: str
    next_steps: str
    action: Action | None


def _visit_days(person: Person, spec: OrgSpec, rng: random.Random) -> Iterator[date]:
    """A ride-along every 3-5 weeks (on a weekday) while the person is employed."""
    day = max(spec.start, person.hire_date + timedelta(days=21))
    day += timedelta(days=rng.randint(0, 20))
    left = person.left_on
    while True:
        if day.weekday() >= 5:  # a weekend: ride along on the Monday
            day += timedelta(days=7 - day.weekday())
        if day > spec.end or (left is not None and day >= left):
            return
        yield day
        day += timedelta(days=rng.randint(21, 35))


def coaching_for(person: Person, spec: OrgSpec) -> list[Report]:
    """Coaching reports with learning curves, rater leniency and the odd regression."""
    rng = rng_for(spec, "coaching", person.hr_id)
    trained = trained_on(completions_for(person, spec))
    base = [1.8 + 1.2 * rng.random() for _ in CAPABILITIES]
    gain = [
        (0.1 + 0.7 * rng.random()) if rng.random() < 0.2 else (1.6 + 1.2 * rng.random())
        for _ in CAPABILITIES
    ]
    tau = [7 + 23 * rng.random() for _ in CAPABILITIES]
    regress = rng.choice(sorted(trained)) if trained and rng.random() < 0.15 else None
    reached, lows_left = False, 2
    cutoff = export_instant(spec)
    reports: list[Report] = []
    for day in _visit_days(person, spec, rng):
        manager = person.on(day).manager
        if manager is None:
            raise ValueError(f"{person.hr_id} has no manager on {day}")
        items = sorted(rng.sample(range(len(CAPABILITIES)), rng.randint(2, 4)))
        if regress is not None and regress not in items:
            items = sorted([*items[:-1], regress])
        ratings: list[int | None] = [None] * len(CAPABILITIES)
        for c in items:
            skill = base[c]
            if c in trained and day >= trained[c]:
                days = (day - trained[c]).days
                skill += gain[c] * days / (days + tau[c])
            noise = (rng.random() + rng.random() + rng.random() - 1.5) * 0.8
            rating = max(1, min(5, floor(skill + manager.leniency + noise + 0.5)))
            if c == regress and reached and lows_left > 0:
                rating, lows_left = 2, lows_left - 1
            reached = reached or (c == regress and rating >= 4)
            ratings[c] = rating
        roll = rng.random()
        status = "Draft" if roll < 0.05 else "Submitted" if roll < 0.5 else "Approved"
        sent = min(stamp(day + timedelta(days=rng.randint(0, 10)), rng.randint(420, 1260)), cutoff)
        submitted = None if status == "Draft" else sent
        if status == "Draft":
            modstamp = stamp(day, rng.randint(1020, 1140))
        else:
            later = rng.randint(0, 90) if status == "Submitted" else rng.randint(1, 7) * 1440
            modstamp = min(sent + timedelta(minutes=later), cutoff)
        focus = min(items, key=lambda c: (ratings[c] or 0, c))
        comment = rng.choice(_COMMENTS).format(cap=_LABELS[rng.choice(items)])
        steps = rng.choice(_NEXT_STEPS).format(cap=_LABELS[focus]) if rng.random() < 0.6 else ""
        action = None
        if status != "Draft" and rng.random() < 0.26:
            due = day + timedelta(days=rng.randint(14, 45))
            roll = rng.random()
            done: date | None = None
            if roll < 0.5:
                done = day + timedelta(days=rng.randint(3, (due - day).days))
            elif roll < 0.8:
                done = due + timedelta(days=rng.randint(1, 21))
            act_status = "Cancelled" if roll >= 0.9 else "Completed" if done else "Open"
            if done is not None and done > cutoff.date():
                done, act_status = None, "Open"
            action = Action(CAPABILITIES[focus], due, done, act_status)
        reports.append(
            Report(day, manager, status, submitted, modstamp, ratings, comment, steps, action)
        )
    return reports
