"""The adoption stage end to end through the CLI, on a private copy of the demo.

`adoptloop run` turns every adoption transition (adopted / sustained / regressed) into a
statement; a re-run adds none; a late coaching edit changes exactly the adoption statements it
affects. `adoptloop adoption` recomputes the table for any as-of date from the store.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from adoptloop.adoption.metrics import COLUMNS
from adoptloop.adoption.states import SUSTAIN_MIN_DAYS
from adoptloop.cli.app import app
from adoptloop.xapi.profile import build_profile, match
from adoptloop.xapi.validate import validate_statement
from tests.support import added_records, copy_demo

pytestmark = pytest.mark.slow

runner = CliRunner()
NS = "https://xapi.example-pharma.com/adoptloop"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
SCORED = "http://adlnet.gov/expapi/verbs/scored"
ADOPTION_VERBS = {f"{NS}/verbs/{state}": state for state in ("adopted", "sustained", "regressed")}
# config/demo/capabilities.yaml: the modules that teach each capability
MODULES = {
    "opening": ["MOD-OPEN-101"],
    "needs-assessment": ["MOD-NEEDS-101"],
    "objection-handling": ["MOD-OBJ-101", "MOD-OBJ-201"],
    "clinical-data": ["MOD-CLIN-101"],
    "closing": ["MOD-CLOSE-101"],
    "compliant-promotion": ["MOD-COMP-101"],
}
THRESHOLD = 0.75  # every demo capability: 4 on the 1-5 scale
AS_OF = "2026-06-30"  # config/demo.yaml


def run(config: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.stdout


def export(config: Path) -> list[dict[str, Any]]:
    out = config.parent / "export.jsonl"
    run(config, "statements", "export", "--out", str(out))
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


@contextmanager
def store(config: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(config.parent / "state" / "demo.db")) as db:
        yield db


def adoption_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if s["verb"]["id"] in ADOPTION_VERBS]


def capability_iri(capability: str) -> str:
    return f"{NS}/activities/capability/{capability}"


def capability_of(statement: dict[str, Any]) -> str:
    iri: str = statement["object"]["id"]
    assert iri.startswith(capability_iri(""))
    return iri.removeprefix(capability_iri(""))


def actor_name(db: sqlite3.Connection, hr_id: str) -> str:
    """The pseudonymous account name of a person, from a statement already made about them."""
    (payload,) = db.execute(
        "SELECT payload FROM outbox WHERE hr_id = ? LIMIT 1", (hr_id,)
    ).fetchone()
    name: str = orjson.loads(payload)["actor"]["account"]["name"]
    return name


def ratings(
    db: sqlite3.Connection, hr_id: str, capability: str
) -> list[tuple[str, str, str, float]]:
    """Counted ratings of a rep on a capability: (visit date, report id, item, scaled), in order."""
    return db.execute(
        "SELECT o.visit_date, o.record_id, r.item, r.scaled FROM ratings r JOIN observations o "
        "ON o.source = r.source AND o.record_id = r.record_id "
        "WHERE o.observed_hr_id = ? AND r.capability_id = ? AND o.counted AND NOT o.deleted "
        "ORDER BY o.visit_date, o.record_id",
        (hr_id, capability),
    ).fetchall()


def edit_rating(config: Path, report_id: str, item: str, value: str) -> None:
    """A late edit of one coaching report: one rating changed, modified after the as-of date."""
    reports = config.parent / "demo" / "crm" / "coaching_reports.csv"
    with reports.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    (row,) = [r for r in rows if r["Id"] == report_id]
    assert row[item] not in ("", value)
    row[item] = value
    row["SystemModstamp"] = "2026-07-02T08:00:00.000+0000"
    with reports.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def find(
    statements: list[dict[str, Any]], verb: str, actor: str, capability: str
) -> list[dict[str, Any]]:
    return [
        s
        for s in statements
        if s["verb"]["id"] == verb
        and s["actor"]["account"]["name"] == actor
        and s["object"]["id"] == capability_iri(capability)
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo after one run; tests using it only read."""
    config = copy_demo(tmp_path_factory.mktemp("demo"))
    run(config, "run")
    return config


# --- statements -----------------------------------------------------------------------------


def test_run_emits_one_valid_statement_per_adoption_transition(demo: Path) -> None:
    statements = adoption_statements(export(demo))
    profile = build_profile(NS, generated_at="2026-11-22T00:00:00Z")
    with store(demo) as db:
        expected = Counter(
            (hr_id, capability, state, on)
            for hr_id, capability, transitions in db.execute(
                "SELECT hr_id, capability_id, transitions FROM adoption_states WHERE NOT deleted"
            )
            for state, on in json.loads(transitions)
            if state in ADOPTION_VERBS.values()
        )
        made = Counter(
            (hr_id, capability_of(statement), kind, statement["timestamp"][:10])
            for hr_id, kind, statement in (
                (hr_id, kind, orjson.loads(payload))
                for hr_id, kind, payload in db.execute(
                    "SELECT hr_id, kind, payload FROM outbox WHERE kind IN "
                    "('adopted', 'sustained', 'regressed')"
                )
            )
        )
    assert made == expected
    assert {s["verb"]["id"] for s in statements} == set(ADOPTION_VERBS)
    assert len(statements) == sum(expected.values())

    for statement in statements:
        assert validate_statement(statement) == [], statement["id"]
        template, problems = match(profile, statement)
        state = ADOPTION_VERBS[statement["verb"]["id"]]
        assert template == f"{NS}/profile/templates/capability-{state}"
        assert problems == [], (statement["id"], problems)
        capability = capability_of(statement)
        assert [a["id"] for a in statement["context"]["contextActivities"]["other"]] == [
            f"{NS}/activities/module/{m}" for m in MODULES[capability]
        ]
        assert statement["result"] == {"success": state != "regressed"}
        assert statement["timestamp"].endswith("T12:00:00.000Z")
        assert statement["timestamp"][:10] <= AS_OF


def test_second_run_adds_no_adoption_statement(tmp_path: Path) -> None:
    config = copy_demo(tmp_path / "config")
    run(config, "run")
    before = export(config)
    run(config, "run")
    assert export(config) == before
    with store(config) as db:
        (counts,) = db.execute("SELECT counts FROM runs ORDER BY started_at DESC").fetchone()
    counts = json.loads(counts)
    assert counts["states"]["changed"] == 0
    assert counts["states"]["removed"] == 0
    assert counts["translate"]["adoption_states"]["statements"] == 0
    assert counts["translate"]["adoption_states"]["voided"] == 0


def test_late_edit_moving_the_first_proficient_rating_earlier_replaces_only_that_adoption(
    tmp_path: Path,
) -> None:
    config = copy_demo(tmp_path / "config")
    run(config, "run")
    before = export(config)
    # a rep who went developing -> adopted on d2, is rated nowhere after d2, and whose last
    # rating before d2 (on dl, below threshold) is under 30 days before d2. Raising that rating
    # to 5 makes dl the adoption day; d2 is then a second proficient rating under 30 days
    # later, so not sustained: the adoption moves from d2 to dl and nothing else changes.
    with store(config) as db:
        candidates = []
        for hr_id, capability, trained_at, transitions in db.execute(
            "SELECT hr_id, capability_id, trained_at, transitions FROM adoption_states "
            "WHERE NOT deleted AND state = 'adopted' ORDER BY record_id"
        ):
            states = json.loads(transitions)
            if [s for s, _ in states] != ["trained-unobserved", "developing", "adopted"]:
                continue
            adopted_on = states[-1][1]
            seen = [r for r in ratings(db, hr_id, capability) if trained_at < r[0] <= AS_OF]
            lows = [r for r in seen if r[0] < adopted_on]
            if any(r[0] > adopted_on for r in seen) or not lows:
                continue
            low_on, report_id, item, scaled = lows[-1]
            assert scaled < THRESHOLD
            gap = date.fromisoformat(adopted_on) - date.fromisoformat(low_on)
            if gap.days < SUSTAIN_MIN_DAYS:
                candidates.append((hr_id, capability, adopted_on, low_on, report_id, item))
        assert candidates, "the demo has no rep whose adoption can move earlier"
        hr_id, capability, adopted_on, low_on, report_id, item = candidates[0]
        actor = actor_name(db, hr_id)
    (old_adopted,) = find(before, f"{NS}/verbs/adopted", actor, capability)
    assert old_adopted["timestamp"] == f"{adopted_on}T12:00:00.000Z"
    (old_scored,) = [
        s
        for s in find(before, SCORED, actor, capability)
        if report_id in s["context"]["contextActivities"]["parent"][0]["id"]
    ]

    edit_rating(config, report_id, item, "5")
    run(config, "run")
    after = export(config)

    assert after[: len(before)] == before  # nothing already made is rewritten
    added = added_records(before, after)
    voids = [s for s in added if s["verb"]["id"] == VOIDED]
    assert sorted(s["object"]["id"] for s in voids) == sorted([old_adopted["id"], old_scored["id"]])
    (new_adopted,) = find(added, f"{NS}/verbs/adopted", actor, capability)
    assert new_adopted["timestamp"] == f"{low_on}T12:00:00.000Z"
    unchanged = ("context", "object", "actor", "verb", "result")
    assert {k: new_adopted[k] for k in unchanged} == {k: old_adopted[k] for k in unchanged}
    (new_scored,) = find(added, SCORED, actor, capability)
    assert new_scored["result"]["score"]["raw"] == 5.0
    assert len(added) == 4  # two voids, one adoption, one rating: nothing else


def test_late_proficient_rating_for_a_developing_rep_adds_exactly_one_adoption(
    tmp_path: Path,
) -> None:
    config = copy_demo(tmp_path / "config")
    run(config, "run")
    before = export(config)
    # a developing rep's last rating before D (below threshold, nothing after it) becomes a 5:
    # adopted on that day; no later rating, so neither sustained nor regressed
    with store(config) as db:
        found = None
        for hr_id, capability, trained_at in db.execute(
            "SELECT hr_id, capability_id, trained_at FROM adoption_states "
            "WHERE NOT deleted AND state = 'developing' ORDER BY record_id"
        ):
            seen = [r for r in ratings(db, hr_id, capability) if trained_at < r[0] <= AS_OF]
            if seen and all(r[3] < THRESHOLD for r in seen):
                found = (hr_id, capability, *seen[-1][:3])
                break
        assert found is not None, "the demo has no developing rep"
        hr_id, capability, last_on, report_id, item = found
        actor = actor_name(db, hr_id)
    assert find(before, f"{NS}/verbs/adopted", actor, capability) == []
    (old_scored,) = [
        s
        for s in find(before, SCORED, actor, capability)
        if report_id in s["context"]["contextActivities"]["parent"][0]["id"]
    ]

    edit_rating(config, report_id, item, "5")
    run(config, "run")
    after = export(config)

    assert after[: len(before)] == before
    added = added_records(before, after)
    assert [s["object"]["id"] for s in added if s["verb"]["id"] == VOIDED] == [old_scored["id"]]
    (adopted,) = find(added, f"{NS}/verbs/adopted", actor, capability)
    assert adopted["timestamp"] == f"{last_on}T12:00:00.000Z"
    assert len(added) == 3  # the void, the new rating, the adoption
    assert adoption_statements(added) == [adopted]


# --- `adoptloop adoption` -------------------------------------------------------------------


def test_adoption_as_of_is_reproducible_and_depends_on_the_date(demo: Path) -> None:
    args = ("adoption", "--by", "region", "--format", "json")
    may = run(demo, *args, "--as-of", "2026-05-31")
    assert run(demo, *args, "--as-of", "2026-05-31") == may
    june = run(demo, *args, "--as-of", "2026-06-30")
    assert june != may

    may_rows, june_rows = json.loads(may)["rows"], json.loads(june)["rows"]
    assert json.loads(may)["as_of"] == "2026-05-31"
    assert [list(r) for r in may_rows] == [[*COLUMNS, "tier", "flagged"]] * len(may_rows)
    total = {r["capability"]: r["trained"] for r in may_rows if r["group"] == "(all)"}
    later = {r["capability"]: r["trained"] for r in june_rows if r["group"] == "(all)"}
    assert set(total) == set(MODULES)
    assert all(total[c] <= later[c] for c in MODULES)  # nobody untrains with time


def test_adoption_as_of_the_run_date_gives_the_runs_table(demo: Path) -> None:
    # the ad-hoc computation (scratch rows) and the run's stored states agree
    csv_out = run(demo, "adoption", "--format", "csv", "--as-of", AS_OF)
    assert csv_out == (demo.parent / "state" / "out" / "adoption.csv").read_text(encoding="utf-8")


def test_adoption_csv_has_exactly_the_documented_columns(demo: Path) -> None:
    documented = (
        "group",
        "capability",
        "eligible",
        "trained",
        "cohort",
        "observed",
        "adopted",
        "sustained",
        "regressed",
        "adoption_observed",
        "adoption_observed_ci_low",
        "adoption_observed_ci_high",
        "adoption_cohort",
        "observation_coverage",
        "median_days_to_proficiency",
        "p75_days_to_proficiency",
        "coaching_coverage",
        "action_follow_through",
        "suppressed",
        "directional",
    )  # DESIGN.md's CSV contract, in its order
    assert documented == COLUMNS
    for by in ("region", "team", "module", "capability"):
        out = run(demo, "adoption", "--by", by, "--format", "csv")
        reader = csv.reader(io.StringIO(out))
        header = next(reader)
        assert tuple(header) == documented, by
        assert all(len(line) == len(documented) for line in reader), by


def test_adoption_by_team_names_teams_by_territory_never_by_hr_id(demo: Path) -> None:
    out = run(demo, "adoption", "--by", "team", "--format", "json", "--as-of", AS_OF)
    groups = {r["group"] for r in json.loads(out)["rows"]}
    assert "(all)" in groups
    # E10094's manager is purged from the HR extract (config/demo/README.md): an eligible rep,
    # so their team has rows, labelled without a territory, never by the manager's HR id
    teams = groups - {"(all)", "team without territory #1"}
    assert all(re.fullmatch(r"team [NSW]-D\d\d", g) for g in teams), groups
    assert not re.search(r"E\d{5}", out)


def test_adoption_by_an_unknown_grouping_exits_2_with_a_message(demo: Path) -> None:
    result = runner.invoke(app, ["adoption", "--by", "bogus", "--config", str(demo)])
    assert result.exit_code == 2
    assert "--by: 'bogus' is not region, team, manager, module or capability" in result.stderr
