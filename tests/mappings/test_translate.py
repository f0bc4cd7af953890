"""Tests for the store row -> xAPI statement translators (adoptloop.mappings.translate).

Golden files: `tests/fixtures/records/<table>/<case>.json` holds one store row shaped like its
table in `adoptloop.store.schema` (`{"row": {...}}`, plus `"ratings": [...]` for an
observation); `tests/fixtures/statements/<table>/<case>.json` holds the statements it must
become, finalized the way the translate stage finalizes revision 1, as a JSON array
pretty-printed with sorted keys. The adoptloop version stamped into every statement is written
as `<adoptloop version>` so that a release does not rewrite every golden file.

To create or update the golden files after an intended change:

    ADOPTLOOP_UPDATE_GOLDEN=1 .venv/bin/pytest tests/mappings/test_translate.py

then read the diff: the golden files are the reviewed contract with LRS report builders.

The property tests feed the translators arbitrary rows (unicode ids, dates 1900..2100, several
timezones) and require a valid statement every time, never a crash.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, Table

from adoptloop import __version__
from adoptloop.mappings.capability_map import CapabilityMap, CapabilityMapFile
from adoptloop.mappings.translate import TRANSLATORS, Draft, TranslateContext, record_ref
from adoptloop.pipeline.translate import Finalizer, as_record
from adoptloop.settings.capabilities import load_capability_map
from adoptloop.store import schema
from adoptloop.xapi import vocab
from adoptloop.xapi.canonical import dumps, timestamp
from adoptloop.xapi.ids import Pseudonymizer, StatementIds
from adoptloop.xapi.validate import XAPIVersion, validate_statement
from adoptloop.xapi.vocab import Namespace

Row = dict[str, Any]

FIXTURES = Path(__file__).parents[1] / "fixtures"
RECORDS = FIXTURES / "records"
STATEMENTS = FIXTURES / "statements"
DEMO_CAPABILITIES = Path(__file__).parents[2] / "config" / "demo" / "capabilities.yaml"

NAMESPACE = "https://xapi.example-pharma.com/adoptloop"
HOME_PAGE = "https://hr.example-pharma.com"
KEY = b"golden-test-key-0123456789"
UPDATE_ENV = "ADOPTLOOP_UPDATE_GOLDEN"
VERSION_PLACEHOLDER = "<adoptloop version>"
VERSIONS: tuple[XAPIVersion, ...] = ("1.0.3", "2.0.0")

_TRACKING_COLUMNS = frozenset({"digest", "translated_digest"})
_PERSON_COLUMNS = ("hr_id", "observer_hr_id", "observed_hr_id")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERSION_EXTENSION = Namespace(NAMESPACE).extension(vocab.EXT_VERSION)


def _context(capabilities: CapabilityMap) -> TranslateContext:
    return TranslateContext(Namespace(NAMESPACE), Pseudonymizer(HOME_PAGE, KEY), capabilities)


@pytest.fixture(scope="module")
def ctx() -> TranslateContext:
    return _context(load_capability_map(DEMO_CAPABILITIES))


def _drafts(ctx: TranslateContext, table: str, row: Row, children: Sequence[Row]) -> list[Draft]:
    """The drafts of a store row (and its ratings), as the translate stage makes them."""
    ratings = [
        (c["item"], c["capability_id"], c["raw"], c["scale_min"], c["scale_max"], c["scaled"])
        for c in children
    ]  # as translation.ratings_of reads them
    return list(TRANSLATORS[table](as_record(table, row, ratings), ctx))


def _finalize(ctx: TranslateContext, draft: Draft, version: XAPIVersion = "1.0.3") -> bytes:
    """Revision 1 of `draft`, as the translate stage would put it in the outbox."""
    statement_id = StatementIds(NAMESPACE).statement(draft.key, 1)
    payload, problems = Finalizer(ctx, version).finalize(statement_id, draft.body)
    assert problems == [], f"{draft.key} would be an invalid statement: {problems}"
    return payload


# --------------------------------------------------------------------------- golden files


def _coerce(table: Table, values: dict[str, Any], *, tracking: bool) -> Row:
    """A JSON object -> the row the store would give: exactly the table's columns, Dates parsed."""
    expected = set(table.c.keys()) - (_TRACKING_COLUMNS if tracking else frozenset())
    assert set(values) == expected, (
        f"a {table.name} row needs exactly the columns {sorted(expected)}; "
        f"missing {sorted(expected - set(values))}, unknown {sorted(set(values) - expected)}"
    )
    row = dict(values)
    for column in table.c:
        if isinstance(column.type, Date) and row.get(column.name) is not None:
            row[column.name] = date.fromisoformat(row[column.name])
    return row


def _load_record(path: Path) -> tuple[Row, list[Row]]:
    table = schema.metadata.tables[path.parent.name]
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) <= {"row", "ratings"}, f"{path}: only 'row' and 'ratings' are allowed"
    row = _coerce(table, data["row"], tracking=True)
    ratings = [_coerce(schema.ratings, r, tracking=False) for r in data.get("ratings", [])]
    for rating in ratings:
        assert (rating["source"], rating["record_id"]) == (row["source"], row["record_id"])
    return row, ratings


def _render(payloads: Sequence[bytes]) -> str:
    statements = [json.loads(p) for p in payloads]
    for statement in statements:
        extensions = statement["context"]["extensions"]
        assert extensions[_VERSION_EXTENSION] == __version__
        extensions[_VERSION_EXTENSION] = VERSION_PLACEHOLDER
    return json.dumps(statements, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _golden_statements(path: Path) -> list[dict[str, Any]]:
    """A golden file's statements with the real adoptloop version put back."""
    statements: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    for statement in statements:
        statement["context"]["extensions"][_VERSION_EXTENSION] = __version__
    return statements


RECORD_FILES = sorted(RECORDS.glob("*/*.json"))
GOLDEN_FILES = sorted(STATEMENTS.glob("*/*.json"))


def _case(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("record_file", RECORD_FILES, ids=_case)
def test_record_translates_to_its_golden_statements(
    record_file: Path, ctx: TranslateContext
) -> None:
    table = record_file.parent.name
    row, ratings = _load_record(record_file)
    rendered = _render([_finalize(ctx, d) for d in _drafts(ctx, table, row, ratings)])
    golden = STATEMENTS / table / record_file.name
    if os.environ.get(UPDATE_ENV) == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    if not golden.is_file():
        pytest.fail(
            f"no golden file {golden.relative_to(FIXTURES.parent.parent)} for "
            f"{record_file.relative_to(FIXTURES.parent.parent)}. Create it with "
            f"`{UPDATE_ENV}=1 .venv/bin/pytest tests/mappings/test_translate.py`, then read it "
            "and check it against DESIGN.md's statement table before committing it."
        )
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"statements for {_case(record_file)} differ from {golden.name}; if the change is "
        f"intended, rerun with {UPDATE_ENV}=1 and review the diff"
    )


def test_every_translated_table_has_golden_cases() -> None:
    cased = {p.parent.name for p in RECORD_FILES}
    assert set(TRANSLATORS) <= cased, f"no record fixtures for {sorted(set(TRANSLATORS) - cased)}"


def test_every_golden_file_has_a_record() -> None:
    orphans = [_case(p) for p in GOLDEN_FILES if not (RECORDS / f"{_case(p)}.json").is_file()]
    assert orphans == [], f"golden files without a record fixture: {orphans}"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("golden", GOLDEN_FILES, ids=_case)
def test_golden_statements_are_valid_xapi(golden: Path, version: XAPIVersion) -> None:
    for statement in _golden_statements(golden):
        assert validate_statement(statement, version=version) == [], statement["id"]


@pytest.mark.parametrize("golden", GOLDEN_FILES, ids=_case)
def test_golden_statements_name_people_only_by_pseudonym(golden: Path) -> None:
    row, _ = _load_record(RECORDS / golden.parent.name / golden.name)
    text = golden.read_text(encoding="utf-8")
    for column in _PERSON_COLUMNS:
        if column in row:
            assert row[column] not in text, f"{column} {row[column]!r} leaks into {golden}"
    assert "mbox" not in text
    assert "mailto:" not in text
    for statement in _golden_statements(golden):
        agents = [statement["actor"]]
        if "instructor" in statement["context"]:
            agents.append(statement["context"]["instructor"])
        for agent in agents:
            assert set(agent) == {"objectType", "account"}
            assert agent["account"]["homePage"] == HOME_PAGE
            assert _HEX64.fullmatch(agent["account"]["name"])


@pytest.mark.parametrize(
    ("case", "verbs"),
    [
        ("completions/completed", [vocab.COMPLETED]),
        ("completions/passed_with_score", [vocab.PASSED]),
        ("completions/failed", [vocab.FAILED]),
        ("observations/counted_two_ratings", [vocab.ATTENDED, vocab.SCORED, vocab.SCORED]),
        ("observations/not_counted", []),
        ("observations/deleted", []),
        ("development_actions/open", [vocab.PLANNED]),
        ("development_actions/completed", [vocab.PLANNED, vocab.ACHIEVED]),
    ],
)
def test_each_golden_case_has_the_verbs_of_the_design_table(
    case: str, verbs: list[vocab.Verb], ctx: TranslateContext
) -> None:
    table, _ = case.split("/")
    row, ratings = _load_record(RECORDS / f"{case}.json")
    statements = [json.loads(_finalize(ctx, d)) for d in _drafts(ctx, table, row, ratings)]
    assert [s["verb"]["id"] for s in statements] == [v.id for v in verbs]


def test_rating_has_manager_as_instructor_and_visit_as_parent(ctx: TranslateContext) -> None:
    row, ratings = _load_record(RECORDS / "observations" / "counted_two_ratings.json")
    visit, *scored = (
        json.loads(_finalize(ctx, d)) for d in _drafts(ctx, "observations", row, ratings)
    )
    manager = ctx.actors.agent(row["observer_hr_id"])
    rep = ctx.actors.agent(row["observed_hr_id"])
    assert visit["actor"] == rep
    assert visit["context"]["instructor"] == manager
    assert visit["object"]["definition"]["type"] == vocab.ACTIVITY_MEETING
    # 2026-06-15 is summer time in London: local noon is 11:00 UTC
    assert visit["timestamp"] == "2026-06-15T11:00:00.000Z"
    for statement in scored:
        assert statement["actor"] == rep
        assert statement["context"]["instructor"] == manager
        assert statement["context"]["contextActivities"]["parent"] == [visit["object"]]
        assert statement["object"]["definition"]["type"] == ctx.ns.capability_type
        assert statement["timestamp"] == visit["timestamp"]
    by_capability = {s["object"]["id"]: s["result"] for s in scored}
    # 4 of 1..5 is 0.75, exactly the threshold: proficient; 3 is 0.5: not proficient
    assert by_capability[ctx.ns.capability("objection-handling")] == {
        "score": {"raw": 4.0, "min": 1.0, "max": 5.0, "scaled": 0.75},
        "success": True,
    }
    assert by_capability[ctx.ns.capability("opening")] == {
        "score": {"raw": 3.0, "min": 1.0, "max": 5.0, "scaled": 0.5},
        "success": False,
    }


# --------------------------------------------------------------------------- properties

_TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
)
# Characters that break naive IRI or key building, mixed into arbitrary (non-surrogate) text.
_AWKWARD = st.sampled_from([" ", "/", "#", "?", "%", "%2F", ":", "..", "é", "\u200b", "😀", "🧪"])
_TEXT = st.lists(st.one_of(st.text(st.characters(codec="utf-8")), _AWKWARD), max_size=6).map(
    "".join
)
_DATES = st.dates(date(1900, 1, 1), date(2100, 12, 31))
_MOMENTS = st.datetimes(
    datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; zones come below
    datetime(2100, 12, 31, 23, 59, 59, 999_999),  # noqa: DTZ001
    timezones=st.sampled_from([ZoneInfo(name) for name in _TIMEZONES]),
)
_SCORES = st.one_of(st.none(), st.integers(0, 100), st.floats(0, 100))


def _completion_rows(capabilities: CapabilityMap) -> st.SearchStrategy[Row]:
    return st.fixed_dictionaries(
        {
            "source": _TEXT,
            "record_id": _TEXT,
            "hr_id": _TEXT,
            "module_id": st.one_of(_TEXT, st.sampled_from(sorted(capabilities.spec.modules))),
            "module_title": st.one_of(st.none(), _TEXT),
            "status": st.sampled_from(["completed", "passed", "failed"]),
            "completed_at": _MOMENTS.map(timestamp),
            "score": _SCORES,
            "deleted": st.booleans(),
        }
    )


def _action_rows(capabilities: CapabilityMap) -> st.SearchStrategy[Row]:
    return st.fixed_dictionaries(
        {
            "source": _TEXT,
            "record_id": _TEXT,
            "hr_id": _TEXT,
            "capability_id": st.sampled_from(sorted(capabilities.capabilities)),
            "agreed_on": _DATES,
            "due_on": st.one_of(st.none(), _DATES),
            "completed_on": st.one_of(st.none(), _DATES),
            "status": st.sampled_from(["open", "completed", "cancelled"]),
            "observation_record_id": st.one_of(st.none(), _TEXT),
            "deleted": st.booleans(),
        }
    )


@st.composite
def _observations(draw: st.DrawFn, capabilities: CapabilityMap) -> tuple[Row, list[Row]]:
    """An observation row and its ratings, scaled by the map as the pull stage does."""
    row = draw(
        st.fixed_dictionaries(
            {
                "source": _TEXT,
                "record_id": _TEXT,
                "observer_hr_id": _TEXT,
                "observed_hr_id": _TEXT,
                "visit_date": _DATES,
                "timezone": st.sampled_from(_TIMEZONES),
                "status": _TEXT,
                "counted": st.booleans(),
                "submitted_at": st.one_of(st.none(), _MOMENTS.map(timestamp)),
                "modified_at": st.one_of(st.none(), _MOMENTS.map(timestamp)),
                "has_next_step": st.booleans(),
                "names_capability": st.booleans(),
                "word_count": st.integers(0, 10_000),
                "deleted": st.booleans(),
            }
        )
    )
    items = draw(st.lists(st.sampled_from(sorted(capabilities.spec.coaching_items)), unique=True))
    ratings = []
    for item in sorted(items):
        scale = capabilities.spec.scales[capabilities.spec.coaching_items[item].scale]
        whole = st.integers(math.ceil(scale.min), math.floor(scale.max))
        raw = draw(st.one_of(whole, st.floats(scale.min, scale.max)))
        rated = capabilities.rate(item, raw)
        ratings.append(
            {
                "source": row["source"],
                "record_id": row["record_id"],
                "item": item,
                "capability_id": rated.capability_id,
                "raw": raw,
                "scale_min": rated.scale_min,
                "scale_max": rated.scale_max,
                "scaled": rated.scaled,
            }
        )
    return row, ratings


def _check_translation(ctx: TranslateContext, table: str, row: Row, children: list[Row]) -> int:
    """Every statement valid in both xAPI versions, byte-identical on every finalize."""
    drafts = _drafts(ctx, table, row, children)
    assert len({d.key for d in drafts}) == len(drafts)
    reordered = dict(reversed(row.items()))
    again = _drafts(ctx, table, reordered, [dict(reversed(c.items())) for c in children])
    assert [dumps(d.body) for d in again] == [dumps(d.body) for d in drafts]
    for draft in drafts:
        for version in VERSIONS:
            payload = _finalize(ctx, draft, version)
            assert _finalize(ctx, draft, version) == payload
            assert validate_statement(json.loads(payload), version=version) == []
    return len(drafts)


# deadline=None: the first statements in a zone load tz data; speed is measured in bench/.
@settings(deadline=None)
@given(data=st.data())
def test_any_completion_row_gives_valid_deterministic_statements(
    data: st.DataObject, ctx: TranslateContext
) -> None:
    row = data.draw(_completion_rows(ctx.capabilities))
    count = _check_translation(ctx, "completions", row, [])
    assert count == (0 if row["deleted"] else 1)


@settings(deadline=None)
@given(data=st.data())
def test_any_observation_gives_valid_deterministic_statements(
    data: st.DataObject, ctx: TranslateContext
) -> None:
    row, ratings = data.draw(_observations(ctx.capabilities))
    count = _check_translation(ctx, "observations", row, ratings)
    assert count == (1 + len(ratings) if row["counted"] and not row["deleted"] else 0)
    for draft in _drafts(ctx, "observations", row, ratings):  # the UTC date is the visit date
        assert draft.body["timestamp"].startswith(row["visit_date"].isoformat() + "T")


@settings(deadline=None)
@given(data=st.data())
def test_any_development_action_gives_valid_deterministic_statements(
    data: st.DataObject, ctx: TranslateContext
) -> None:
    row = data.draw(_action_rows(ctx.capabilities))
    count = _check_translation(ctx, "development_actions", row, [])
    done = row["status"] == "completed" and row["completed_on"] is not None
    assert count == (0 if row["deleted"] else 1 + done)


def _map_with_items(items: set[str]) -> CapabilityMap:
    """A one-capability map rating it through `items` (question ids may contain '/')."""
    return CapabilityMap(
        CapabilityMapFile.model_validate(
            {
                "scales": {"five": {"min": 1, "max": 5}},
                "capabilities": [{"id": "opening", "name": "Opening", "threshold": 0.75}],
                "coaching_items": {i: {"capability": "opening", "scale": "five"} for i in items},
            }
        )
    )


def _keys(ctx: TranslateContext, source: str, record_id: str, item: str) -> dict[str, str]:
    """The statement keys and record refs an observation and a completion produce."""
    observation = {
        "source": source,
        "record_id": record_id,
        "observer_hr_id": "M1",
        "observed_hr_id": "R1",
        "visit_date": date(2026, 1, 1),
        "timezone": "UTC",
        "status": "Submitted",
        "counted": True,
        "submitted_at": None,
        "modified_at": None,
        "has_next_step": False,
        "names_capability": False,
        "word_count": 0,
        "deleted": False,
    }
    rating = {
        "item": item,
        "capability_id": "opening",
        "raw": 4,
        "scale_min": 1.0,
        "scale_max": 5.0,
        "scaled": 0.75,
    }
    completion = {
        "source": source,
        "record_id": record_id,
        "hr_id": "R1",
        "module_id": "M",
        "module_title": None,
        "status": "completed",
        "completed_at": "2026-01-01T00:00:00.000Z",
        "score": None,
        "deleted": False,
    }
    drafts = [
        *_drafts(ctx, "observations", observation, [rating]),
        *_drafts(ctx, "completions", completion, []),
    ]
    return {d.kind: d.key for d in drafts} | {
        "observation ref": record_ref("observations", source, record_id),
        "completion ref": record_ref("completions", source, record_id),
    }


@given(segments=st.lists(st.text(st.sampled_from("a1#%"), max_size=2), min_size=3, max_size=5))
def test_ids_containing_slashes_never_make_two_records_share_a_key(segments: list[str]) -> None:
    # Every way of cutting "s1/s2/.../sn" into (source, record id, item) is a different record
    # (or rating), so each must get its own statement key: a shared key means a shared
    # statement id, and one record's statement would void or shadow the other's.
    n = len(segments)
    cuts = [
        ("/".join(segments[:i]), "/".join(segments[i:j]), "/".join(segments[j:]))
        for i in range(1, n - 1)
        for j in range(i + 1, n)
    ]
    ctx = _context(_map_with_items({item for _, _, item in cuts}))
    keys = [_keys(ctx, *cut) for cut in cuts]
    for kind in keys[0]:
        per_record = {cut if kind == "rating" else cut[:2] for cut in cuts}
        assert len({k[kind] for k in keys}) == len(per_record), kind


def _adoption_row(capability: str, transitions: tuple[tuple[str, date], ...]) -> Any:
    """E1's adoption states row of `capability` (trained 2026-01-05) with `transitions`."""
    from adoptloop.mappings.records import AdoptionTransitions

    return AdoptionTransitions(
        source="adoption",
        record_id=f"E1/{capability}",
        hr_id="E1",
        capability_id=capability,
        trained_at=date(2026, 1, 5),
        transitions=transitions,
        deleted=False,
    )


def test_the_same_transition_twice_on_one_day_gives_two_statements_with_two_ids(
    ctx: TranslateContext,
) -> None:
    """adopted -> regressed -> adopted on one day: each transition is its own statement (one id
    for both made the outbox refuse the second, and every later run failed)."""
    from adoptloop.mappings.translate import translate_adoption

    day = date(2026, 3, 2)
    capability = next(iter(ctx.capabilities.capabilities))
    record = _adoption_row(capability, (("adopted", day), ("regressed", day), ("adopted", day)))

    drafts = translate_adoption(record, ctx)

    keys = [d.key for d in drafts]
    assert len(keys) == len(set(keys)) == 3
    assert keys[0] == f"adoption/E1/{capability}/adopted/2026-03-02"  # the first keeps its id
    ids = {StatementIds(NAMESPACE).statement(k, 1) for k in keys}
    assert len(ids) == 3


def _observation_row(record_id: str) -> Row:
    return {
        "source": "crm",
        "record_id": record_id,
        "observer_hr_id": "M1",
        "observed_hr_id": "R1",
        "visit_date": date(2026, 3, 2),
        "timezone": "UTC",
        "status": "Submitted",
        "counted": True,
        "submitted_at": None,
        "modified_at": None,
        "has_next_step": False,
        "names_capability": False,
        "word_count": 0,
        "deleted": False,
    }


def _rating_row(item: str, capability: str, raw: float) -> Row:
    return {
        "item": item,
        "capability_id": capability,
        "raw": raw,
        "scale_min": 1.0,
        "scale_max": 5.0,
        "scaled": (raw - 1) / 4,
    }


def test_a_capability_id_with_underscores_is_a_valid_unencoded_activity_iri() -> None:
    """Issue 16, point 2 (inputs): a capability id of letters, digits, '_' and '-' becomes the
    last segment of the capability's activity IRI as it is (all unreserved), and the rating's
    statement is valid xAPI."""
    capability = "Objection_Handling-2"
    capabilities = CapabilityMap(
        CapabilityMapFile.model_validate(
            {
                "scales": {"five": {"min": 1, "max": 5}},
                "capabilities": [{"id": capability, "name": "Objection", "threshold": 0.75}],
                "coaching_items": {"Q1": {"capability": capability, "scale": "five"}},
            }
        )
    )
    ctx = _context(capabilities)
    drafts = _drafts(
        ctx, "observations", _observation_row("V1"), [_rating_row("Q1", capability, 4)]
    )
    for version in VERSIONS:
        scored = [json.loads(_finalize(ctx, d, version)) for d in drafts if d.kind == "rating"]
        assert [s["object"]["id"] for s in scored] == [
            f"{NAMESPACE}/activities/capability/{capability}"
        ]


def test_two_items_rating_one_capability_on_one_visit_are_two_statements() -> None:
    """Issue 16, point 2 (inputs): several coaching items may rate one capability; two ratings
    of c on one visit are two `scored` statements on c, with distinct statement ids."""
    capabilities = _map_with_items({"Opening_Rating__c", "Q7"})
    ctx = _context(capabilities)
    ratings = [_rating_row("Opening_Rating__c", "opening", 4), _rating_row("Q7", "opening", 2)]
    drafts = _drafts(ctx, "observations", _observation_row("V1"), ratings)
    scored = [d for d in drafts if d.kind == "rating"]
    assert len({d.key for d in scored}) == 2
    statements = [json.loads(_finalize(ctx, d)) for d in scored]
    assert len({s["id"] for s in statements}) == 2
    assert {s["object"]["id"] for s in statements} == {ctx.ns.capability("opening")}
    assert sorted(s["result"]["score"]["raw"] for s in statements) == [2.0, 4.0]


@given(
    parts=st.lists(
        st.text(st.sampled_from("aZ09-_.~/%# é"), max_size=4) | st.sampled_from(["E1/closing"]),
        min_size=1,
        max_size=4,
    )
)
def test_a_key_is_its_parts_each_percent_encoded_as_quote_encodes_it(parts: list[str]) -> None:
    # the statement ids of every store hang on these bytes: a part whose only character to
    # quote is '/' (an adoption state's "<hr_id>/<capability>") takes a quicker path that must
    # give what quote gives ('%2F', upper case)
    from urllib.parse import quote

    from adoptloop.mappings.translate import _key

    assert _key(*parts) == "/".join(quote(part, safe="") for part in parts)


def test_an_adoption_row_with_no_transition_to_state_gives_no_statement(
    ctx: TranslateContext,
) -> None:
    from adoptloop.mappings.translate import translate_adoption

    capability = next(iter(ctx.capabilities.capabilities))
    day = date(2026, 3, 2)
    row = _adoption_row(capability, (("trained-unobserved", day),))
    assert translate_adoption(row, ctx) == []
    assert translate_adoption(replace(row, transitions=()), ctx) == []
    # the capability is still checked first: a row the map can no longer translate is said so
    with pytest.raises(KeyError, match="no-such"):
        translate_adoption(replace(row, capability_id="no-such", transitions=()), ctx)
    adopted = replace(row, transitions=(("trained-unobserved", day), ("adopted", day)))
    assert [d.kind for d in translate_adoption(adopted, ctx)] == ["adopted"]


def test_completions_of_one_module_share_its_activity_and_each_title_is_its_own(
    ctx: TranslateContext,
) -> None:
    # one object for all of a module's statements (validated once, by identity); a module
    # whose title differs between rows is named by each row's own title
    def completion(record_id: str, title: str | None) -> Row:
        return {
            "source": "lms",
            "record_id": record_id,
            "hr_id": "R1",
            "module_id": "M-shared",
            "module_title": title,
            "status": "completed",
            "completed_at": "2026-01-01T00:00:00.000Z",
            "score": None,
            "deleted": False,
        }

    [first] = _drafts(ctx, "completions", completion("C1", "Objections"), [])
    [second] = _drafts(ctx, "completions", completion("C2", "Objections"), [])
    [renamed] = _drafts(ctx, "completions", completion("C3", "Objections II"), [])
    [untitled] = _drafts(ctx, "completions", completion("C4", None), [])
    assert first.body["object"] is second.body["object"]
    assert renamed.body["object"]["definition"]["name"] == {"en-US": "Objections II"}
    assert first.body["object"]["definition"]["name"] == {"en-US": "Objections"}
    assert "name" not in untitled.body["object"]["definition"]
    assert first.body["object"]["id"] == ctx.ns.module("M-shared")
