"""Tests for the `adoptloop` command line (adoptloop.cli)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from adoptloop.cli.app import app
from adoptloop.cli.setup import render_schema
from adoptloop.connectors.registry import Registry
from tests.support import REPO

ADOPTLOOP = Path(sys.executable).with_name("adoptloop")

# (what is wrong, text in demo.yaml, replacement, dotted path, what the message says)
BROKEN = {
    "typo": ("    reports:\n", "    reprots:\n", "sources.crm.reprots", "did you mean 'reports'"),
    "missing-file": (
        "capability_map: demo/capabilities.yaml",
        "capability_map: demo/caps.yaml",
        "capability_map",
        "caps.yaml does not exist",
    ),
    "wrong-type": ("window_days: 90", "window_days: ninety", "adoption.window_days", "integer"),
}

_EXPORT_HEADERS = {
    "exports/hris/people.csv": "hr_id,first_name,last_name,email,role,manager_hr_id,region\n",
    "exports/lms/completions.csv": "record_id,user_id,user_email,module_id,status,completed_at\n",
    "exports/crm/users.csv": "Id,FederationIdentifier,Email,IsActive\n",
    "exports/crm/coaching_reports.csv": (
        "Id,Manager_vod__c,Employee_vod__c,Review_Date__c,Status__c\n"
    ),
}


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _break(config: Path, kind: str) -> tuple[str, str]:
    old, new, dotted, says = BROKEN[kind]
    text = config.read_text(encoding="utf-8")
    assert text.count(old) == 1
    config.write_text(text.replace(old, new), encoding="utf-8")
    return dotted, says


def _store_file(config: Path) -> Path:
    """The SQLite file demo.yaml points at (`sqlite:///state/demo.db`, relative to it)."""
    assert "url: sqlite:///state/demo.db" in config.read_text(encoding="utf-8")
    return config.parent / "state" / "demo.db"


# --- validate and run -----------------------------------------------------------------------


def test_validate_accepts_the_demo_config() -> None:
    done = subprocess.run(
        [ADOPTLOOP, "validate", "--config", "config/demo.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("config/demo.yaml: ok (3 sources, 6 capabilities")
    assert done.stderr == ""


@pytest.mark.parametrize("kind", sorted(BROKEN))
@pytest.mark.parametrize("command", ["validate", "run", "status"])
def test_bad_config_exits_2_with_one_located_line_and_writes_nothing(
    demo_config: Path, command: str, kind: str
) -> None:
    dotted, says = _break(demo_config, kind)

    result = _invoke(command, "--config", demo_config)

    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(rf"{re.escape(str(demo_config))}:\d+:\d+ {re.escape(dotted)}: ", lines[0])
    assert says in lines[0]
    assert not _store_file(demo_config).exists()
    assert not _store_file(demo_config).parent.exists()


def test_long_error_line_is_not_wrapped_by_the_real_command(demo_config: Path) -> None:
    _break(demo_config, "missing-file")

    done = subprocess.run(
        [ADOPTLOOP, "run", "--config", str(demo_config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": "", "COLUMNS": "40"},
    )

    assert done.returncode == 2
    assert len(done.stderr) > 80
    assert done.stderr.count("\n") == 1
    assert done.stderr.endswith(" does not exist\n")
    assert not _store_file(demo_config).exists()


def test_run_with_a_bad_as_of_date_exits_2_without_a_store(demo_config: Path) -> None:
    result = _invoke("run", "--config", demo_config, "--as-of", "30/06/2026")

    assert result.exit_code == 2
    assert result.stderr == "--as-of: '30/06/2026' is not a date (YYYY-MM-DD)\n"
    assert not _store_file(demo_config).exists()


def test_run_with_a_short_actor_key_exits_2_without_a_store(
    demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADOPTLOOP_ACTOR_KEY", "too-short")
    text = demo_config.read_text(encoding="utf-8")
    demo_config.write_text(
        text.replace("${file:demo/actor-key.txt}", "${ADOPTLOOP_ACTOR_KEY}"), encoding="utf-8"
    )

    result = _invoke("run", "--config", demo_config)

    assert result.exit_code == 2
    assert result.stderr.endswith(" xapi.actor.key: the actor key must be at least 16 bytes\n")
    assert not _store_file(demo_config).exists()


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = _invoke("validate", "--config", tmp_path / "nope.yaml")

    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path / 'nope.yaml'}: file not found\n"


# --- init -----------------------------------------------------------------------------------


def _template(name: str) -> str:
    return (resources.files("adoptloop") / "templates" / name).read_text(encoding="utf-8")


def test_init_writes_the_starter_config_and_capability_map(tmp_path: Path) -> None:
    target = tmp_path / "new"

    result = _invoke("init", target)

    assert result.exit_code == 0, result.stderr
    for name in ("adoptloop.yaml", "capabilities.yaml"):
        assert (target / name).read_text(encoding="utf-8") == _template(name)


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert _invoke("init", tmp_path).exit_code == 0
    (tmp_path / "adoptloop.yaml").write_text("# mine\n", encoding="utf-8")

    result = _invoke("init", tmp_path)

    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert str(tmp_path / "adoptloop.yaml") in result.stderr
    assert (tmp_path / "adoptloop.yaml").read_text(encoding="utf-8") == "# mine\n"


def test_init_with_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "adoptloop.yaml").write_text("# mine\n", encoding="utf-8")

    result = _invoke("init", tmp_path, "--force")

    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "adoptloop.yaml").read_text(encoding="utf-8") == _template("adoptloop.yaml")


def test_init_config_validates_once_key_and_exports_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _invoke("init", tmp_path).exit_code == 0
    for name, header in _EXPORT_HEADERS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(header, encoding="utf-8")
    monkeypatch.setenv("ADOPTLOOP_ACTOR_KEY", "a-stable-key-of-32-characters-ok")

    result = _invoke("validate", "--config", tmp_path / "adoptloop.yaml")

    assert result.exit_code == 0, result.stderr
    assert "ok (3 sources, 1 capabilities, delivery to store)" in result.stdout


def test_validate_reads_the_exports_and_names_a_missing_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate checks the files the config points at, not only the YAML."""
    assert _invoke("init", tmp_path).exit_code == 0
    for name, header in _EXPORT_HEADERS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(header.replace("Status__c", "Stauts__c"), encoding="utf-8")
    monkeypatch.setenv("ADOPTLOOP_ACTOR_KEY", "a-stable-key-of-32-characters-ok")

    result = _invoke("validate", "--config", tmp_path / "adoptloop.yaml")

    assert result.exit_code == 2
    assert "coaching_reports.csv:1: column 'Status__c' not found" in result.stderr
    assert "did you mean 'Stauts__c'" in result.stderr


def test_init_config_without_the_actor_key_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADOPTLOOP_ACTOR_KEY", raising=False)
    assert _invoke("init", tmp_path).exit_code == 0

    result = _invoke("validate", "--config", tmp_path / "adoptloop.yaml")

    assert result.exit_code == 2
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path / 'adoptloop.yaml'))}:\d+:\d+ "
        "environment variable ADOPTLOOP_ACTOR_KEY is not set\n",
        result.stderr,
    )


# --- version and schema ---------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    result = _invoke("version")

    assert result.exit_code == 0
    assert result.stdout == f"{version('adoptloop')}\n"


def test_config_schema_prints_the_json_schema() -> None:
    result = _invoke("config", "schema")

    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "adoptloop configuration"
    assert {"xapi", "sources", "capability_map"} <= set(schema["properties"])
    assert "config_path" not in schema["properties"]


def test_config_schema_out_writes_the_same_schema(tmp_path: Path) -> None:
    result = _invoke("config", "schema", "--out", tmp_path / "schema.json")

    assert result.exit_code == 0
    written = (tmp_path / "schema.json").read_text(encoding="utf-8")
    assert written == render_schema(Registry.from_entry_points())


def test_a_damaged_store_is_a_configuration_error_naming_it(demo_config: Path) -> None:
    store = demo_config.parent / "state" / "demo.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text("this is not a database\n" * 200, encoding="utf-8")

    result = _invoke("run", "--config", demo_config)

    assert result.exit_code == 2
    assert "demo.db cannot be used" in result.stderr
    assert "restore it from a backup" in result.stderr


def test_an_output_dir_that_is_a_file_stops_the_run_before_anything_is_stored(
    demo_config: Path,
) -> None:
    out = demo_config.parent / "state" / "out"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("not a folder", encoding="utf-8")

    result = _invoke("run", "--config", demo_config)

    assert result.exit_code == 2
    assert "adoption.output_dir" in result.stderr
    with sqlite3.connect(demo_config.parent / "state" / "demo.db") as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("record_id;user_id;user_email;module_id;status;completed_at", "delimiter: ';'"),
        ("sep=;", "Excel's 'sep=;' hint"),
        (
            "record_id,user_id,user_email,module_id,status,completed_at,completed_at",
            "'completed_at' appear more than once",
        ),
    ],
)
def test_a_header_read_with_the_wrong_delimiter_or_a_column_twice_says_so(
    demo_config: Path, header: str, says: str
) -> None:
    completions = demo_config.parent / "demo" / "lms" / "completions.csv"
    completions.write_text(header + "\n", encoding="utf-8")

    result = _invoke("validate", "--config", demo_config)

    assert result.exit_code == 2
    assert says in result.stderr
