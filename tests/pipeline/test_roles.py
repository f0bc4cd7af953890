"""Roles from config: an HR export with job titles, mapped by `roles.map`, gives the same reps
and managers as the demo's role codes; a title the map does not know is quarantined (a row
defect naming the title and `roles.map`) and comes back once it is mapped."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app
from adoptloop.store import quarantine
from adoptloop.store.db import open_store
from tests.support import copy_demo

PEOPLE = Path("demo/hris/people.csv")
TITLES = {
    "rep": "Sales Representative",
    "kam": "Key Account Manager",
    "msl": "Medical Science Liaison",
    "first_line_manager": "District Manager",
    "regional_director": "Regional Sales Director",
}
ROLES_MAP = """
roles:
  map:
    Sales Representative: rep
    Key Account Manager: rep
    medical science liaison: rep     # compared case-insensitively
    District Manager: manager
{director}
"""
DIRECTOR = "    Regional Sales Director: director\n"


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def with_job_titles(config: Path, *, director: bool = True) -> None:
    """The demo's HR file with job titles in a `job_title` column instead of role codes, the
    source pointed at it with `columns.role`, and a roles map for the titles."""
    path = config.parent / PEOPLE
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    fields = ["job_title" if f == "role" else f for f in rows[0]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        row["job_title"] = TITLES[row.pop("role")]
        writer.writerow(row)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    source = "    path: demo/hris/people.csv\n"
    text = text.replace(source, source + "    columns: {role: job_title}\n")
    config.write_text(
        text + ROLES_MAP.format(director=DIRECTOR if director else ""), encoding="utf-8"
    )


def _adoption(config: Path) -> list[dict[str, str]]:
    out = config.parent / "state" / "out" / "adoption.csv"
    return list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))


def test_job_titles_mapped_to_roles_give_the_demo_reps_and_managers(
    demo_config: Path,
) -> None:
    demo = demo_config
    titled = demo_config.parent.parent / "titled" / "demo.yaml"
    copy_demo(titled.parent)
    with_job_titles(titled)

    assert _invoke("run", "-c", demo).exit_code == 0
    result = _invoke("run", "-c", titled)

    assert result.exit_code == 0, result.output
    rows = _adoption(titled)
    overall = next(r for r in rows if r["group"] == "(all)")
    assert int(overall["eligible"]) > 0
    assert float(overall["coaching_coverage"]) > 0
    assert rows == _adoption(demo)  # the same people are reps and managers as with the codes


def test_an_unmapped_title_is_quarantined_with_its_shape_and_comes_back_once_mapped(
    demo_config: Path,
) -> None:
    with_job_titles(demo_config, director=False)

    result = _invoke("run", "-c", demo_config)

    assert result.exit_code == 0, result.output  # 3 of 97 rows: under max_rejected_share
    engine = open_store(f"sqlite:///{demo_config.parent / 'state' / 'demo.db'}")
    with engine.connect() as conn:
        held = [e for e in quarantine.entries(conn) if "roles.map" in e["reason"]]
        # their reports' manager is now nobody known: listed too (the people are kept)
        orphans = [e for e in quarantine.entries(conn) if "not a known person" in e["reason"]]
    assert len(held) == 3
    assert orphans
    assert {e["location"] for e in held} == {"people.csv:2", "people.csv:3", "people.csv:4"}
    # the title by its shape only (issue 15: quarantine keeps no raw value; validate names it)
    assert all("'aaaaaaaa aaaaa aaaaaaaa'" in e["reason"] for e in held)
    assert not any("Director" in e["reason"] for e in held)
    status = json.loads(_invoke("status", "-c", demo_config, "--json").stdout)
    assert status["sources"]["hris"]["quarantined"] == 3  # the rows; the orphans are kept
    assert status["sources"]["hris"]["read"] == 97

    # the file is unchanged, but the map is not: the HR source is re-read and the rows return
    demo_config.write_text(demo_config.read_text(encoding="utf-8") + DIRECTOR, encoding="utf-8")
    again = _invoke("run", "-c", demo_config)

    assert again.exit_code == 0, again.output
    with engine.connect() as conn:
        left = [e["record_key"] for e in quarantine.entries(conn) if e["source"] == "hris"]
    assert left == ["E10094@2025-09-01"]  # the demo's own rep whose manager is unknown
    status = json.loads(_invoke("status", "-c", demo_config, "--json").stdout)
    assert status["sources"]["hris"]["quarantined"] == 0
    engine.dispose()


def test_validate_lists_every_unknown_title_with_its_count_and_exits_2(
    demo_config: Path,
) -> None:
    with_job_titles(demo_config, director=False)
    text = demo_config.read_text(encoding="utf-8")
    demo_config.write_text(text.replace("    District Manager: manager\n", ""), encoding="utf-8")

    result = _invoke("validate", "-c", demo_config)

    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines == [
        "sources.hris people.csv:2: role 'Regional Sales Director' (3 rows) is not in the roles "
        "map; add it under roles.map in demo.yaml as one of rep, manager, director, other",
        "sources.hris people.csv:5: role 'District Manager' (10 rows) is not in the roles "
        "map; add it under roles.map in demo.yaml as one of rep, manager, director, other",
    ]


def test_validate_accepts_job_titles_the_map_knows(demo_config: Path) -> None:
    with_job_titles(demo_config)

    result = _invoke("validate", "-c", demo_config)

    assert result.exit_code == 0, result.output


def test_validate_names_the_missing_role_column_and_exits_2(demo_config: Path) -> None:
    text = demo_config.read_text(encoding="utf-8")
    source = "    path: demo/hris/people.csv\n"
    demo_config.write_text(
        text.replace(source, source + "    columns: {role: job_title}\n"), encoding="utf-8"
    )

    result = _invoke("validate", "-c", demo_config)

    assert result.exit_code == 2
    assert "sources.hris" in result.stderr
    assert "job_title" in result.stderr


def with_title_column(config: Path, *, director: bool = True) -> None:
    """The demo's HR file keeps its `role` codes and gains a `job_title` column; the roles
    section names that column (`roles.column`) and maps the titles."""
    path = config.parent / PEOPLE
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*rows[0], "job_title"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "job_title": TITLES[row["role"]]})
    path.write_text(buffer.getvalue(), encoding="utf-8")
    roles = ROLES_MAP.format(director=DIRECTOR if director else "")
    roles = roles.replace("roles:\n", "roles:\n  column: job_title\n")
    config.write_text(config.read_text(encoding="utf-8") + roles, encoding="utf-8")


def test_roles_column_maps_a_job_title_column_beside_the_role_column(
    demo_config: Path,
) -> None:
    """Issue 16, point 2 (inputs): `roles: {column: job_title, map: {...}}` maps the job titles
    of the column it names (the file's `role` column is then not read): the same reps and
    managers as the demo's role codes."""
    demo = demo_config
    titled = demo_config.parent.parent / "titled" / "demo.yaml"
    copy_demo(titled.parent)
    with_title_column(titled)

    assert _invoke("run", "-c", demo).exit_code == 0
    result = _invoke("run", "-c", titled)

    assert result.exit_code == 0, result.output
    assert _invoke("validate", "-c", titled).exit_code == 0
    assert _adoption(titled) == _adoption(demo)


def test_validate_names_unmapped_titles_of_the_roles_column_with_file_and_line(
    demo_config: Path,
) -> None:
    """Issue 16, point 2: a title of the `roles.column` column the map lacks is a validate
    error naming the value, its count and its first file:line (exit 2)."""
    with_title_column(demo_config, director=False)

    result = _invoke("validate", "-c", demo_config)

    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "sources.hris people.csv:2: role 'Regional Sales Director' (3 rows) is not in the roles "
        "map; add it under roles.map in demo.yaml as one of rep, manager, director, other",
    ]


def test_a_missing_roles_column_is_named_with_the_key_to_set(demo_config: Path) -> None:
    """Issue 16, point 2: `roles.column` naming a column the HR file lacks: exit 2, naming the
    column and `roles.column`."""
    text = demo_config.read_text(encoding="utf-8")
    demo_config.write_text(text + "roles:\n  column: job_titel\n", encoding="utf-8")

    result = _invoke("validate", "-c", demo_config)

    assert result.exit_code == 2
    assert "people.csv:1: column 'job_titel' not found" in result.stderr
    assert "set its name with `roles.column` (the header has" in result.stderr


def test_a_roles_map_change_checks_the_unchanged_hr_file_before_reading_it_whole(
    demo_config: Path,
) -> None:
    """Issue 17 (a reviewer's read): the pre-flight skips a file its cursor calls unchanged,
    because the read skips it too; but a changed roles map makes the run read the HR file
    whole, so its pre-flight must check it: a wrong `date_format` set in the same change
    stops the run (exit 2, naming the setting) instead of quarantining every row."""
    with_job_titles(demo_config, director=False)
    assert _invoke("run", "-c", demo_config).exit_code == 0
    text = demo_config.read_text(encoding="utf-8").replace(
        "    columns: {role: job_title}\n",
        "    columns: {role: job_title}\n    date_format: '%d/%m/%Y'\n",
    )
    demo_config.write_text(text + DIRECTOR, encoding="utf-8")

    result = CliRunner().invoke(app, ["run", "-c", str(demo_config)])

    assert result.exit_code == 2, result.output
    assert "date_format" in result.stderr
