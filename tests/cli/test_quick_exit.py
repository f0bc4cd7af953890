"""`adoptloop run` as a process ends without the interpreter's teardown (cli/quick_exit.py),
and nothing it leaves behind or reports changes for it: the exit status, what it printed, the
store closed (its WAL checkpointed and removed), the report written whole, every atexit handler
run. The same run in-process (CliRunner) is never ended by it."""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from adoptloop.cli import quick_exit
from adoptloop.cli.app import app

COMPLETIONS = Path("demo/lms/completions.csv")


def _process(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ADOPTLOOP_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "adoptloop.cli", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env=env,
    )


def _store(config: Path) -> Path:
    return config.parent / "state" / "adoptloop.db"


def test_a_run_process_exits_0_with_its_summary_its_store_closed_and_its_report_whole(
    demo_config: Path,
) -> None:
    done = _process("run", "-c", demo_config, cwd=demo_config.parent)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "— succeeded" in done.stdout
    assert "adoption report:" in done.stdout.splitlines()[-1]  # the last line, flushed
    assert '"event": "run finished"' in done.stderr
    store = next(demo_config.parent.rglob("*.db"))
    assert not Path(f"{store}-wal").exists()  # checkpointed and removed: the store was closed
    report = Path(done.stdout.splitlines()[-1].split("adoption report: ", 1)[1].strip())
    assert report.read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_a_run_process_over_a_limit_still_exits_65_with_its_problem(demo_config: Path) -> None:
    path = demo_config.parent / COMPLETIONS
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    for n in range(len(rows) // 2):  # half the completions with a date no parser takes
        cells = rows[n].split(",")
        cells[6] = "not-a-date"
        rows[n] = ",".join(cells)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")

    done = _process("run", "-c", demo_config, cwd=demo_config.parent)

    assert done.returncode == 65, done.stderr[-2000:]
    assert "source lms:" in done.stderr
    assert "adoption report:" in done.stdout


def test_a_run_process_with_an_unusable_config_still_exits_2(demo_config: Path) -> None:
    demo_config.write_text(demo_config.read_text(encoding="utf-8") + "\nunknown_key: 1\n")

    done = _process("run", "-c", demo_config, cwd=demo_config.parent)

    assert done.returncode == 2
    assert "unknown_key" in done.stderr


def test_an_in_process_run_is_not_ended(demo_config: Path) -> None:
    invoke = CliRunner().invoke
    args = ["run", "-c", str(demo_config)]
    result = contextvars.copy_context().run(invoke, app, args, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    # still here: the store was closed by the command all the same
    assert not list(demo_config.parent.rglob("*.db-wal"))


_LEAVE = """
import atexit, sys, threading
from sqlalchemy import create_engine, text
from adoptloop.cli import quick_exit
engine = create_engine("sqlite:///{db}")
with engine.begin() as conn:
    conn.execute(text("PRAGMA journal_mode=WAL"))
    conn.execute(text("CREATE TABLE t (x)"))
    conn.execute(text("INSERT INTO t VALUES (1)"))
{keep}
atexit.register(lambda: open({marker!r}, "w").write("ran"))
quick_exit.ready(engine)
sys.stdout.write("buffered, not flushed")
print("ready" if quick_exit.allowed() else "not allowed", file=sys.stderr)
quick_exit.leave({code})
print(" returned", end="")
"""


def _leave(folder: Path, code: int, keep: str = "") -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    script = _LEAVE.format(db=folder / "s.db", marker=str(folder / "atexit"), code=code, keep=keep)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
    )


def test_leave_exits_with_the_code_after_the_atexit_handlers_and_flushed_output(
    tmp_path: Path,
) -> None:
    done = _leave(tmp_path / "run", 65)

    assert done.returncode == 65
    assert done.stderr.strip() == "ready"
    assert done.stdout == "buffered, not flushed"  # flushed; " returned" never printed
    assert (tmp_path / "run" / "atexit").read_text() == "ran"
    assert (tmp_path / "run" / "s.db").exists()
    assert not (tmp_path / "run" / "s.db-wal").exists()


def test_leave_returns_while_a_connection_is_checked_out_or_a_thread_runs(
    tmp_path: Path,
) -> None:
    checked_out = _leave(tmp_path / "held", 3, keep="held = engine.connect()")
    running = _leave(
        tmp_path / "thread",
        3,
        keep="stop = threading.Event(); threading.Thread(target=stop.wait, args=(0.5,)).start()",
    )

    for done in (checked_out, running):
        assert done.stderr.strip() == "not allowed"
        assert done.stdout == "buffered, not flushed returned"  # the normal exit
        assert done.returncode == 0


def test_leave_does_nothing_until_a_command_is_ready() -> None:
    fresh = contextvars.Context()
    assert not fresh.run(quick_exit.allowed)
    fresh.run(quick_exit.leave, 0)  # returns: nothing said the work is done
