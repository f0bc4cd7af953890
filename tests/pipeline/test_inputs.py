"""Issue 16, point 2 (inputs), end to end through the file connectors and the store: several
coaching items rating one capability, the HR file's explicit effective-dated rows and its own
team column."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner, Result

from adoptloop.cli.app import app
from adoptloop.store import outbox, schema
from adoptloop.store.adoption import person_inputs
from adoptloop.store.db import open_store

VISIT = "a1C5g00000DXFFuEAP"  # the demo's visit rating Objection_Handling (3) and Closing (4)


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _store(config: Path):  # type: ignore[no-untyped-def]
    return open_store(f"sqlite:///{config.parent / 'state' / 'demo.db'}")


def test_two_items_rating_one_capability_are_two_ratings_through_the_pipeline(
    demo_config: Path,
) -> None:
    """Issue 16, point 2: the capability map maps Closing_Rating__c to objection-handling as
    well, so the demo's visit rating Objection_Handling (3 of 5) and Closing (4 of 5) rates
    objection-handling twice: both ratings are stored, both are `scored` statements with
    distinct ids, and the adoption engine's inputs count both."""
    capabilities = demo_config.parent / "demo" / "capabilities.yaml"
    text = capabilities.read_text(encoding="utf-8")
    capabilities.write_text(
        text.replace(
            "Closing_Rating__c: {capability: closing,",
            "Closing_Rating__c: {capability: objection-handling,",
        ),
        encoding="utf-8",
    )

    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output
    engine = _store(demo_config)
    with engine.connect() as conn:
        r, o = schema.ratings, schema.observations
        stored = conn.execute(
            select(r.c.item, r.c.capability_id, r.c.raw).where(r.c.record_id == VISIT)
        ).all()
        rep = conn.execute(select(o.c.observed_hr_id).where(o.c.record_id == VISIT)).scalar_one()
        statements = [json.loads(p) for p in outbox.iter_payloads(conn)]
        inputs = next(person_inputs(conn, date(2026, 6, 30), [rep]))
    engine.dispose()
    assert sorted(stored) == [
        ("Closing_Rating__c", "objection-handling", 4.0),
        ("Objection_Handling_Rating__c", "objection-handling", 3.0),
    ]
    scored = [
        s
        for s in statements
        if s["verb"]["id"].endswith("/scored")
        and any(VISIT in p["id"] for p in s["context"]["contextActivities"]["parent"])
    ]
    assert len(scored) == 2
    assert len({s["id"] for s in scored}) == 2
    assert {s["object"]["id"].rsplit("/", 1)[1] for s in scored} == {"objection-handling"}
    on_visit = [(cap, scaled) for cap, _, visit, scaled in inputs.ratings if visit == VISIT]
    assert sorted(on_visit) == [
        ("objection-handling", 0.5),
        ("objection-handling", 0.75),
    ]


def _with_teams(config: Path) -> dict[str, str]:
    """The demo's HR file with a `team` column: reps alternate between two teams across their
    managers (independent of the manager); managers and directors have none. Returns the
    reps' teams by hr_id."""
    path = config.parent / "demo" / "hris" / "people.csv"
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    teams: dict[str, str] = {}
    for row in rows:
        rep = row["role"] in ("rep", "kam", "msl")
        row["team"] = ("Team A" if int(row["hr_id"][1:]) % 2 else "Team B") if rep else ""
        if rep:
            teams[row["hr_id"]] = row["team"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return teams


def _rows(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(result.stdout.splitlines()))


def test_by_team_groups_by_the_hr_team_column_independent_of_the_manager(
    demo_config: Path,
) -> None:
    """Issue 16, point 2: with a `team` column in the HR file, `--by team` groups reps by it
    (two teams that cut across every manager) and its rows add up to the '(all)' row, coaching
    coverage included; without the column the demo's teams are the managers' territories."""
    before = _invoke("run", "-c", demo_config)
    assert before.exit_code == 0, before.output
    by_manager = {
        r["group"]
        for r in _rows(_invoke("adoption", "-c", demo_config, "--by", "team", "--format", "csv"))
    }
    assert all(g.startswith("team ") or g == "(all)" for g in by_manager)

    _with_teams(demo_config)
    result = _invoke("run", "-c", demo_config)
    assert result.exit_code == 0, result.output
    rows = _rows(_invoke("adoption", "-c", demo_config, "--by", "team", "--format", "csv"))

    assert {r["group"] for r in rows} == {"Team A", "Team B", "(all)"}
    for capability in {r["capability"] for r in rows}:
        per = {r["group"]: r for r in rows if r["capability"] == capability}
        for column in ("trained", "eligible"):
            parts = [per[g][column] for g in ("Team A", "Team B") if g in per]
            if per["(all)"][column] and all(parts):
                assert sum(int(p) for p in parts) == int(per["(all)"][column]), column
    assert any(int(r["eligible"] or 0) > 0 for r in rows if r["group"] != "(all)")
