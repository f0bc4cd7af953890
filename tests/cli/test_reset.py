"""`adoptloop reset SOURCE`: the next run reads the source again in full, and since nothing
changed, it queues no statement."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from adoptloop.cli.app import app
from adoptloop.store import locks
from adoptloop.store.cursors import all_cursors
from adoptloop.store.db import open_store


def _invoke(*args: str | Path, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], input=stdin, catch_exceptions=False)


def _run(config: Path) -> dict[str, dict[str, int]]:
    """One run; the rows read per source.stream and the statements made per table."""
    result = _invoke("run", "--config", config)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return {
        "read": {
            f"{e['connector']}.{e['stream']}": e["read"] for e in events if e["event"] == "pulled"
        },
        "statements": {e["table"]: e["statements"] for e in events if e["event"] == "translated"},
    }


def _export(config: Path, target: Path) -> bytes:
    result = _invoke("statements", "export", "--config", config, "--out", target)
    assert result.exit_code == 0, result.stderr
    return target.read_bytes()


def _cursors(config: Path) -> list[tuple[str, str, str]]:
    engine = open_store(f"sqlite:///{config.parent / 'state' / 'demo.db'}")
    with engine.connect() as conn:
        return [(c["source"], c["stream"], c["value"]) for c in all_cursors(conn)]


def test_reset_rereads_the_source_and_queues_no_statement_when_nothing_changed(
    demo_config: Path, tmp_path: Path
) -> None:
    first = _run(demo_config)
    assert first["read"]["lms.completions"] > 0
    unchanged = _run(demo_config)
    assert set(unchanged["read"].values()) == {0}  # unchanged files are not even parsed
    before = _export(demo_config, tmp_path / "before.jsonl")

    result = _invoke("reset", "lms", "--config", demo_config, "--yes")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("reset lms: forgot 1 cursor(s); the next run reads it again")
    assert [c[0] for c in _cursors(demo_config)].count("lms") == 0
    again = _run(demo_config)
    assert again["read"]["lms.completions"] == first["read"]["lms.completions"]
    assert {k: v for k, v in again["read"].items() if not k.startswith("lms.")} == {
        k: 0 for k in again["read"] if not k.startswith("lms.")
    }
    assert set(again["statements"].values()) == {0}
    assert _export(demo_config, tmp_path / "after.jsonl") == before
    assert "lms" in [c[0] for c in _cursors(demo_config)]


def test_reset_of_a_source_of_several_streams_forgets_them_all(demo_config: Path) -> None:
    _run(demo_config)

    result = _invoke("reset", "crm", "--config", demo_config, "--yes")

    assert result.exit_code == 0, result.stderr
    assert "forgot 4 cursor(s)" in result.stdout
    assert {c[0] for c in _cursors(demo_config)} == {"hris", "lms"}
    assert _run(demo_config)["read"]["crm.reports"] > 0


def test_reset_of_an_unknown_source_exits_2_listing_the_configured_ones(
    demo_config: Path,
) -> None:
    _run(demo_config)
    cursors = _cursors(demo_config)

    result = _invoke("reset", "lmx", "--config", demo_config, "--yes")

    assert result.exit_code == 2
    assert result.stderr == (
        f"reset: {demo_config} has no source 'lmx'; its sources are: crm, hris, lms\n"
    )
    assert _cursors(demo_config) == cursors


def test_reset_without_yes_off_a_terminal_exits_2_and_changes_nothing(demo_config: Path) -> None:
    _run(demo_config)
    cursors = _cursors(demo_config)

    result = _invoke("reset", "lms", "--config", demo_config, stdin="y\n")

    assert result.exit_code == 2
    assert (
        result.stderr == "reset: confirm with --yes when not on a terminal; nothing was changed\n"
    )
    assert _cursors(demo_config) == cursors


def test_reset_waits_for_no_run_exit_75_while_one_holds_the_lock(demo_config: Path) -> None:
    _run(demo_config)
    cursors = _cursors(demo_config)
    engine = open_store(f"sqlite:///{demo_config.parent / 'state' / 'demo.db'}")

    with locks.hold(engine, locks.RUN, holder=locks.node_id("test-run"), lease_seconds=60):
        result = _invoke("reset", "lms", "--config", demo_config, "--yes")

    assert result.exit_code == 75
    assert "holds the 'run' lock" in result.stderr
    assert _cursors(demo_config) == cursors


def test_reset_of_a_source_never_read_says_so(demo_config: Path) -> None:
    result = _invoke("reset", "hris", "--config", demo_config, "--yes")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "reset hris: nothing to forget (it was never read)\n"
