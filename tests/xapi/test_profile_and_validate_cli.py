"""The xAPI Profile matches what the demo emits; `adoptloop xapi validate` reports per statement."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from adoptloop.cli.app import app
from adoptloop.xapi.profile import build_profile, match, select
from tests.support import copy_demo

runner = CliRunner()
NS = "https://xapi.example-pharma.com/adoptloop"


@pytest.fixture(scope="module")
def demo_statements(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    config = copy_demo(tmp_path_factory.mktemp("demo"))
    assert runner.invoke(app, ["run", "--config", str(config)]).exit_code == 0
    out = config.parent / "all.jsonl"
    assert (
        runner.invoke(
            app, ["statements", "export", "--config", str(config), "--out", str(out)]
        ).exit_code
        == 0
    )
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_every_demo_statement_matches_its_template(demo_statements: list[dict[str, Any]]) -> None:
    profile = build_profile(NS, generated_at="2026-11-22T00:00:00Z")
    used: Counter[str] = Counter()
    for statement in demo_statements:
        template, problems = match(profile, statement)
        assert template is not None, statement["verb"]
        assert problems == [], (statement["id"], problems)
        used[template.rsplit("/", 1)[-1]] += 1
    assert {
        "module-completed",
        "module-passed",
        "coaching-visit",
        "capability-rated",
        "development-action-planned",
        "development-action-achieved",
        "capability-uplift",  # issue 19 point 5: the demo's uplift per capability
    } <= set(used)


def test_a_statement_that_breaks_a_rule_is_reported(demo_statements: list[dict[str, Any]]) -> None:
    profile = build_profile(NS, generated_at="2026-11-22T00:00:00Z")
    rated = next(s for s in demo_statements if s["verb"]["id"].endswith("/scored"))
    broken = copy.deepcopy(rated)
    broken["actor"] = {"objectType": "Agent", "mbox": "mailto:rep@example-pharma.com"}
    del broken["result"]["score"]["scaled"]
    _, problems = match(profile, broken)
    joined = " ".join(problems)
    assert "$.actor.mbox must be excluded" in joined
    assert "$.result.score.scaled must be included" in joined
    assert "$.actor.account.name must be included" in joined


def test_profile_concepts_and_templates_are_well_formed() -> None:
    profile = build_profile(NS, generated_at="2026-11-22T00:00:00Z")
    version = profile["versions"][0]["id"]
    assert profile["@context"] == "https://w3id.org/xapi/profiles/context"
    assert profile["id"] == f"{NS}/profile"
    ids = [c["id"] for c in profile["concepts"]] + [t["id"] for t in profile["templates"]]
    assert len(ids) == len(set(ids))
    for item in profile["concepts"] + profile["templates"]:
        assert item["inScheme"] == version
        assert item["prefLabel"]["en"]
        assert item["definition"]["en"]
        for rule in item.get("rules", ()):
            select({}, rule["location"])  # every location parses
    verbs = {c["id"] for c in profile["concepts"] if c["type"] == "Verb"}
    assert verbs == {
        f"{NS}/verbs/adopted",
        f"{NS}/verbs/sustained",
        f"{NS}/verbs/regressed",
        f"{NS}/verbs/estimated-uplift",  # issue 19 point 5
        f"{NS}/verbs/estimated-leniency",
    }


def test_jsonpath_subset_selects_keys_indexes_and_wildcards() -> None:
    doc = {"a": {"b-c": [1, {"d": 2}], "e": {"x": 1, "y": 2}}}
    assert select(doc, "$.a['b-c'][1].d") == [2]
    assert select(doc, "$.a['b-c'][*]") == [1, {"d": 2}]
    assert sorted(select(doc, "$.a.e[*]")) == [1, 2]
    assert select(doc, "$.a.missing") == []
    with pytest.raises(ValueError, match="unsupported JSONPath"):
        select(doc, "$.a[?(@.x)]")


def test_profile_command_writes_json_ld_for_the_configured_namespace(tmp_path: Path) -> None:
    config = copy_demo(tmp_path / "c")
    out = tmp_path / "profile.jsonld"
    result = runner.invoke(
        app,
        [
            "xapi",
            "profile",
            "--config",
            str(config),
            "--out",
            str(out),
            "--generated-at",
            "2026-11-22T00:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["versions"][0]["generatedAtTime"] == "2026-11-22T00:00:00Z"
    assert document["id"] == f"{NS}/profile"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_prints_one_line_per_statement_and_exits_65_on_any_invalid(
    tmp_path: Path, demo_statements: list[dict[str, Any]]
) -> None:
    good = demo_statements[0]
    bad = {**good, "timestamp": "2026-01-01T10:00:00"}
    path = _write(tmp_path / "s.jsonl", [json.dumps(good), json.dumps(bad), "{not json"])
    result = runner.invoke(app, ["xapi", "validate", str(path)])
    assert result.exit_code == 65
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["index"], r["valid"]) for r in lines] == [(0, True), (1, False), (2, False)]
    assert any("$.timestamp" in e for e in lines[1]["errors"])
    assert "not valid JSON" in lines[2]["errors"][0]


def test_validate_accepts_a_json_array_and_exits_0_when_all_valid(
    tmp_path: Path, demo_statements: list[dict[str, Any]]
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(demo_statements[:20]))
    result = runner.invoke(app, ["xapi", "validate", str(path)])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 20


def test_validate_exits_2_when_the_file_cannot_be_read(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["xapi", "validate", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    result = runner.invoke(app, ["xapi", "validate", str(broken)])
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr
