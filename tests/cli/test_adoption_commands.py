"""`adoptloop adoption` groups by `adoption.by` from the config (a `--by` given wins);
`adoptloop report` writes to `adoption.output_dir` unless `--out` says otherwise."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner, Result

from adoptloop.cli.app import app
from tests.support import copy_demo


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(
        app, ["--log-level", "error", *[str(a) for a in args]], catch_exceptions=False
    )


@pytest.fixture(scope="module")
def ran_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo, run once; the tests only read its store (and write reports)."""
    saved = structlog.get_config()
    config = copy_demo(tmp_path_factory.mktemp("demo"))
    assert _invoke("run", "--config", config).exit_code == 0
    yield config
    structlog.configure(**saved)


def _variant(config: Path, name: str, old: str, new: str) -> Path:
    """A copy of the demo config next to it (same store, same data) with one line changed."""
    text = config.read_text(encoding="utf-8")
    assert text.count(old) == 1
    variant = config.with_name(f"{name}.yaml")
    variant.write_text(text.replace(old, new), encoding="utf-8")
    return variant


def _adoption_json(config: Path, *args: str) -> dict[str, object]:
    result = _invoke("adoption", "--config", config, "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


def _groups(report: dict[str, object]) -> set[str]:
    rows = report["rows"]
    assert isinstance(rows, list)
    return {row["group"] for row in rows}


def test_adoption_groups_by_the_configured_region(ran_demo: Path) -> None:
    found = _adoption_json(ran_demo)

    assert found["by"] == "region"
    assert _groups(found) == {"North", "South", "West", "(all)"}


def test_adoption_honours_adoption_by_in_the_config(ran_demo: Path) -> None:
    by_capability = _variant(ran_demo, "by-capability", "  by: region", "  by: capability")

    found = _adoption_json(by_capability)

    assert found["by"] == "capability"
    assert _groups(found) == _groups(_adoption_json(ran_demo, "--by", "capability"))
    assert "North" not in _groups(found)


def test_by_on_the_command_line_wins_over_the_config(ran_demo: Path) -> None:
    by_capability = _variant(ran_demo, "by-capability", "  by: region", "  by: capability")

    found = _adoption_json(by_capability, "--by", "region")

    assert found["by"] == "region"
    assert _groups(found) == {"North", "South", "West", "(all)"}


def test_an_unknown_by_exits_2(ran_demo: Path) -> None:
    result = _invoke("adoption", "--config", ran_demo, "--by", "planet")

    assert result.exit_code == 2
    assert result.stderr == ("--by: 'planet' is not region, team, manager, module or capability\n")


def test_report_writes_to_the_configured_output_dir_and_makes_it(
    ran_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    elsewhere = _variant(
        ran_demo, "reports-elsewhere", "  output_dir: state/out", "  output_dir: r/a/b"
    )

    result = _invoke("report", "--config", elsewhere)

    assert result.exit_code == 0, result.stderr
    written = ran_demo.parent / "r" / "a" / "b" / "adoption.html"
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert result.stdout == f"wrote {written.resolve()} (as of 2026-06-30)\n"
    assert list(tmp_path.iterdir()) == []  # nothing in the working directory


def test_report_out_names_the_file_or_a_folder(ran_demo: Path, tmp_path: Path) -> None:
    file_result = _invoke("report", "--config", ran_demo, "--out", tmp_path / "new" / "r.html")
    folder_result = _invoke("report", "--config", ran_demo, "--out", tmp_path)

    assert file_result.exit_code == 0, file_result.stderr
    assert file_result.stdout.startswith(f"wrote {(tmp_path / 'new' / 'r.html').resolve()} ")
    assert folder_result.exit_code == 0, folder_result.stderr
    assert folder_result.stdout.startswith(f"wrote {(tmp_path / 'adoption.html').resolve()} ")
    # the same report, but for the moment it was generated (the two may straddle a second)
    assert _unstamped(tmp_path / "new" / "r.html") == _unstamped(tmp_path / "adoption.html")


def _unstamped(report: Path) -> str:
    text = report.read_text(encoding="utf-8")
    stamped = re.sub(r" · generated [^·<]+ · ", " · generated (time) · ", text)
    assert stamped != text  # the stamp was found (else this comparison would prove less)
    return stamped


def test_report_to_a_place_that_cannot_be_written_exits_2(ran_demo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")

    result = _invoke("report", "--config", ran_demo, "--out", blocker / "r.html")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot use ")
    assert "Traceback" not in result.output
