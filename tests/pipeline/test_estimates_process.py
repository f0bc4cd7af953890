"""Issue 17, the run's memory (point 1 of the estimates stage's round): the estimates are
computed in a short-lived process of their own (pipeline/estimates_child.py), so the run's
process never imports the statistics libraries; the child's peak memory is reported beside
the stage's; on SQLite and PostgreSQL; an error or a crash in the child fails the run with a
clear error and its exit status, and nothing of the estimates is written."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import delete, func, make_url, select
from structlog.testing import capture_logs

from adoptloop.adoption.estimates import as_plain, estimates_as_of
from adoptloop.cli.common import load
from adoptloop.errors import AdoptloopError
from adoptloop.mappings.translate import estimate_ref
from adoptloop.pipeline import estimates_child
from adoptloop.pipeline import translate as translate_stage
from adoptloop.pipeline.estimates import period_of
from adoptloop.pipeline.run import Environment, _beside, run_pipeline
from adoptloop.store import adoption as store
from adoptloop.store import records, schema
from adoptloop.store.metrics import estimate_dirty, kept_rating_columns
from tests.store.conftest import postgres_server, postgres_url, store_url

__all__ = ["postgres_server", "postgres_url", "store_url"]  # the fixtures this module uses

LIBRARIES = ("numpy", "pandas", "scipy", "diff_diff")


_RUN = """
import json, sys
from datetime import date
from pathlib import Path
from adoptloop.cli.common import load
from adoptloop.pipeline.run import Environment, run_pipeline
settings, registry = load(Path(sys.argv[1]))
env = Environment.open(settings, registry)
result = run_pipeline(env)
loaded = sorted(m for m in sys.argv[2:] if m in sys.modules)
print(json.dumps({"fits": result.counts["estimates"]["fits"], "loaded": loaded}))
"""


def test_a_run_never_imports_the_statistics_libraries_into_its_own_process(demo: Path) -> None:
    """Point 1: after a run that fitted uplift and leniency, none of numpy, pandas, scipy or
    diff-diff is among the run's process's modules (the estimates' process had them)."""
    ran = subprocess.run(
        [sys.executable, "-c", _RUN, str(demo), *LIBRARIES],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    found = json.loads(ran.stdout.splitlines()[-1])
    assert found["fits"]["uplift"]["fitted"] > 0
    assert found["loaded"] == []


def _with_store(demo: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo on the store at `url` (its password, if any, as store.password: the only way
    the settings take one)."""
    parsed = make_url(url)
    store = f"url: {parsed._replace(password=None).render_as_string(hide_password=False)}"
    if parsed.password is not None:
        monkeypatch.setenv("TEST_STORE_PASSWORD", str(parsed.password))
        store += "\n  password: ${TEST_STORE_PASSWORD}"
    text = demo.read_text(encoding="utf-8").replace("url: sqlite:///state/demo.db", store)
    demo.write_text(text, encoding="utf-8")
    return demo


def test_the_estimates_process_peak_memory_is_reported_with_the_stage(
    demo: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1: on SQLite and PostgreSQL the estimates' process fits, and the `stage done` line
    of each stage it runs beside carries its peak resident memory so far
    (`workers_peak_rss_mb`, which bench/run.py adds to the run's)."""
    settings, registry = load(_with_store(demo, store_url, monkeypatch))
    env = Environment.open(settings, registry)
    try:
        with capture_logs() as logs:
            result = run_pipeline(env)
        with env.engine.connect() as conn:
            kept = store.kept_estimates(conn)
    finally:
        env.engine.dispose()
    assert result.counts["estimates"]["fits"]["uplift"]["fitted"] > 0
    assert kept is not None
    done = {e["stage"]: e for e in logs if e["event"] == "stage done"}
    # started with the pull, it is told to go only after it: always beside the pull
    assert done["pull"]["workers_peak_rss_mb"] > 0
    # the stage it answered in counts its peak: an interpreter with the libraries
    beside = ("pull", "states", "translate", "estimates")
    assert max(done[s].get("workers_peak_rss_mb", 0.0) for s in beside) > 50


def _in_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, code: str) -> None:
    """`code` runs as each new process of this test starts (a sitecustomize module on its
    PYTHONPATH, in tmp_path/`name`): the child's changes, not the run's process's (which has
    imported adoption.estimates already)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(code, encoding="utf-8")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), path])))


def _answering(
    env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str
) -> estimates_child.EstimatesChild:
    """A child told to go that computes nothing and answers `answer` (a Python expression)."""
    _in_the_child(
        tmp_path,
        monkeypatch,
        "answering",
        "import adoptloop.adoption.estimates as estimates\n"
        "estimates.estimates_as_of = lambda *args, **kwargs: None\n"
        f"estimates.as_plain = lambda found: {answer}\n",
    )
    url = env.engine.url.render_as_string(hide_password=False)
    child = estimates_child.EstimatesChild.start(url, env.capabilities)
    child.go(date(2026, 3, 1))
    return child


def _break_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raise_: str) -> None:
    """The child process raises `raise_` where it computes the estimates."""
    _in_the_child(
        tmp_path,
        monkeypatch,
        "broken",
        "import adoptloop.adoption.estimates as estimates\n"
        "from adoptloop.store.db import StoreUnavailable\n"
        "def broken(*args, **kwargs):\n"
        f"    raise {raise_}\n"
        "estimates.estimates_as_of = broken\n",
    )


def _nothing_of_the_estimates_written(env: Environment) -> None:
    period = period_of(env.as_of(None))
    refs = [estimate_ref("uplift", period), estimate_ref("leniency", period)]
    with env.engine.connect() as conn:
        assert store.kept_estimates(conn) is None
        emitted = schema.emitted
        statements = conn.execute(
            select(func.count()).select_from(emitted).where(emitted.c.record_ref.in_(refs))
        ).scalar_one()
        status = conn.execute(select(schema.runs.c.status)).scalar_one()
    assert statements == 0
    assert status == "failed"


@pytest.mark.parametrize(
    ("raise_", "exit_code", "says"),
    [
        ("KeyError('x')", 70, "the estimates failed (KeyError)"),
        ("StoreUnavailable('the store went away')", 75, "the store went away"),
    ],
)
def test_an_error_in_the_estimates_process_fails_the_run_and_writes_none_of_them(
    env: Environment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    raise_: str,
    exit_code: int,
    says: str,
) -> None:
    """Point 1: the child's own error (with its exit status) or a bug in it (exit 70, named by
    its class, no traceback) fails the run; no estimate statement, no kept estimates."""
    _break_the_child(tmp_path, monkeypatch, raise_)
    with pytest.raises(AdoptloopError) as failed:
        run_pipeline(env)
    assert failed.value.exit_code == exit_code
    assert says in str(failed.value)
    _nothing_of_the_estimates_written(env)


def test_a_killed_estimates_process_fails_the_run_and_writes_none_of_them(
    env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1: the child killed mid-run (out of memory, say) fails the run with exit 70 and
    says so; no estimate statement, no kept estimates."""
    started: list[estimates_child.EstimatesChild] = []
    real = estimates_child.EstimatesChild.start.__func__  # type: ignore[attr-defined]

    def start(cls: Any, *args: Any) -> estimates_child.EstimatesChild:
        child: estimates_child.EstimatesChild = real(cls, *args)
        started.append(child)
        return child

    monkeypatch.setattr(estimates_child.EstimatesChild, "start", classmethod(start))

    def kill(_what: str, _n: int) -> None:  # the pull's progress: the child is running
        for child in started:
            os.kill(child._process.pid, signal.SIGKILL)

    with pytest.raises(estimates_child.EstimatesFailed) as failed:
        run_pipeline(env, progress=kill)
    assert failed.value.exit_code == 70
    assert "ended without its results" in str(failed.value)
    _nothing_of_the_estimates_written(env)


class _Child:
    """An estimates process as `_beside` sees it: running or done, 250 MB at its peak."""

    def __init__(self, running: bool) -> None:
        self._running = running

    def running(self) -> bool:
        return self._running

    def high_water_mb(self) -> float:
        return 250.0


@pytest.mark.parametrize(("running", "counted"), [(True, 400.0), (False, 150.0)])
def test_a_stage_counts_the_estimates_process_only_if_it_still_ran_as_the_stage_began(
    running: bool, counted: float
) -> None:
    """Point 1 (memory counted honestly): a stage adds the estimates process's peak to its
    workers' only when the process was still at work as the stage began; once it has
    answered (in a full run, during the states stage), the translate stage after it does not
    count it again beside its own workers."""
    bucket: dict[str, Any] = {"workers_peak_rss_mb": 150.0}
    with _beside(bucket, cast(estimates_child.EstimatesChild, _Child(running))):
        pass
    assert bucket["workers_peak_rss_mb"] == counted


def test_the_translate_workers_wait_for_the_estimates_process(
    env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1 (what the run's processes hold at once): the run hands the translate stage a
    `workers_when` that says no while the estimates process is at work, and yes once it has
    answered, so the translate workers never run beside it (tests/pipeline/
    test_translate_stage.py has the stage's side). The child is told to go only as the
    translate stage begins here, so it is surely still at work then."""
    going = estimates_child.EstimatesChild.go
    held: list[tuple[estimates_child.EstimatesChild, Any]] = []
    monkeypatch.setattr(
        estimates_child.EstimatesChild, "go", lambda self, as_of: held.append((self, as_of))
    )
    asked: list[bool] = []
    whens: list[Any] = []
    creating = translate_stage.TranslateStage.__init__

    def init(self: Any, *args: Any, workers_when: Any = None, **kwargs: Any) -> None:
        asked.append(workers_when())  # waiting for its go: at work
        whens.append(workers_when)
        for child, as_of in held:
            going(child, as_of)
        creating(self, *args, workers_when=workers_when, **kwargs)

    monkeypatch.setattr(translate_stage.TranslateStage, "__init__", init)
    result = run_pipeline(env)
    assert asked == [False]
    assert whens[0]() is True  # it has answered
    assert result.counts["estimates"]["fits"]["uplift"]["fitted"] > 0


class _Seen(AdoptloopError):
    pass


def _child_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, look: Any) -> dict[str, Any]:
    """The child's life (`_child`) in this process on an empty store, with `look` in place of
    estimates_as_of (it raises _Seen once it has seen what it looks for); the answer. What the
    child froze for the collector goes back to it."""
    import gc
    import io
    import pickle

    from adoptloop.adoption import estimates
    from adoptloop.store.db import create_store_engine, migrate

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = create_store_engine(url)
    migrate(engine)
    engine.dispose()
    monkeypatch.setattr(estimates, "estimates_as_of", look)
    sends = io.BytesIO()
    pickle.dump(estimates_child._Start(url, cast(Any, None), 20, {}), sends)
    pickle.dump(date(2026, 6, 30), sends)
    sends.seek(0)
    answers = io.BytesIO()
    gc.unfreeze()
    try:
        estimates_child._child(sends, answers)
    finally:
        gc.unfreeze()  # this test process's objects go back to the collector
    answer: dict[str, Any] = json.loads(answers.getvalue())
    return answer


def test_the_estimates_process_reads_with_a_small_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17, estimates process's memory (point 1): the process reads the ratings of the
    whole history once, so its SQLite connection keeps SQLite's default 2 MB page cache, not
    the store's 32 MB (measured: the process's peak 262 -> 223 MB at 10,000 reps)."""
    seen: list[int] = []

    def look(conn: Any, *_: Any, **_kwargs: Any) -> Any:
        seen.append(conn.exec_driver_sql("PRAGMA cache_size").scalar())
        raise _Seen("looked")

    answer = _child_here(tmp_path, monkeypatch, look)

    assert answer["error"]["class"] == "_Seen"
    assert seen == [-2048]


def test_an_answer_larger_than_the_pipe_is_taken_as_it_comes_and_the_process_ends(
    env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1 (the translate workers wait for the estimates' answer): an answer larger than
    the pipe's buffer (a 10k org's is) is read as the child writes it, so the child ends once
    it has answered, not when the estimates stage reads it; before, it sat blocked in its
    write, still running, and the translate workers waiting for it never started."""
    child = _answering(env, tmp_path, monkeypatch, "{'padding': 'x' * 1_000_000}")
    try:
        deadline = time.monotonic() + 120
        while child.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not child.running()
    finally:
        child.close()


def test_the_estimates_process_ends_once_it_has_answered_without_the_teardown(
    env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the incremental run's wait for the estimates): the process ends as soon as
    its answer is written, without the interpreter's teardown (freeing the fits' objects and
    the libraries' modules one by one took about 0.25 s at 10,000 reps, which the estimates
    stage waited for): an exit hook in it never runs. What it printed before (a library's
    output, sent to the run's stderr) is not lost with the teardown."""
    hooked = tmp_path / "hooked"
    _in_the_child(
        tmp_path,
        monkeypatch,
        "ends",
        "import atexit, pathlib, sys, types\n"
        "import adoptloop.adoption.estimates as estimates\n"
        f"atexit.register(pathlib.Path({str(hooked)!r}).write_text, 'ran')\n"
        "def found(*args, **kwargs):\n"
        "    print('printed by a library')\n"
        "    return types.SimpleNamespace(kept_ratings=None)\n"
        "estimates.estimates_as_of = found\n"
        "estimates.as_plain = lambda found: {'answered': True}\n",
    )
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # its prints buffered, as a service's
    errors = tmp_path / "stderr"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", estimates_child.__name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        url = env.engine.url.render_as_string(hide_password=False)
        start = estimates_child._Start(url, env.capabilities, 20, {})
        sends = pickle.dumps(start) + pickle.dumps(date(2026, 3, 1))
        answer, _ = process.communicate(sends, timeout=120)
    assert process.returncode == 0
    assert json.loads(answer)["estimates"] == {"answered": True}
    assert "printed by a library" in errors.read_text()
    assert not hooked.exists()


def test_the_estimates_process_leaves_what_it_preloaded_out_of_the_collectors_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the incremental run's wait for the estimates): by the time the process reads
    and fits, what it held after preloading the libraries is frozen (gc.freeze): the
    collector's passes, which the read's and the fits' short-lived objects set off, no longer
    walk the libraries' objects each time (the child's go->answer about 0.13 s shorter at
    10,000 reps)."""
    import gc

    frozen: list[int] = []

    def look(*_: Any, **_kwargs: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        raise _Seen("looked")

    _child_here(tmp_path, monkeypatch, look)

    assert frozen[0] > 10_000  # the interpreter's and the libraries' objects


def test_adoptloop_run_fits_in_the_estimates_process_it_started_as_it_began(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (the incremental run's wait for the estimates): `adoptloop run` starts the
    estimates process before it loads its settings (EstimatesChild.spawn), so its imports run
    beside the command's own, and the run computes its estimates there: none is started
    later, and the one started ahead has ended by the time the command returns."""
    from typer.testing import CliRunner

    from adoptloop.cli.app import app

    spawned: list[estimates_child.EstimatesChild] = []
    spawning = estimates_child.EstimatesChild.spawn.__func__  # type: ignore[attr-defined]

    def spawn(cls: Any) -> estimates_child.EstimatesChild:
        child: estimates_child.EstimatesChild = spawning(cls)
        spawned.append(child)
        return child

    def late(cls: Any, *_args: Any) -> estimates_child.EstimatesChild:
        raise AssertionError("an estimates process started after the command began")

    monkeypatch.setattr(estimates_child.EstimatesChild, "spawn", classmethod(spawn))
    monkeypatch.setattr(estimates_child.EstimatesChild, "start", classmethod(late))
    ran = CliRunner().invoke(app, ["run", "-c", str(demo)], catch_exceptions=False)

    assert ran.exit_code == 0, ran.output
    assert len(spawned) == 1
    assert not spawned[0].running()
    settings, registry = load(demo)
    env = Environment.open(settings, registry)
    try:
        with env.engine.connect() as conn:
            kept = store.kept_estimates(conn)
    finally:
        env.engine.dispose()
    assert kept is not None
    assert kept["fits_made"]["uplift"] > 0


def test_a_process_started_ahead_is_ended_unused_when_the_run_publishes_no_estimates(
    demo: Path,
) -> None:
    """Issue 17: an estimates process started ahead for a run whose settings publish no
    estimates (adoption.publish_estimates: false) is ended as the run begins, not left
    waiting beside it; the run computes no estimates."""
    text = demo.read_text(encoding="utf-8")
    demo.write_text(
        text.replace("adoption:\n", "adoption:\n  publish_estimates: false\n", 1), encoding="utf-8"
    )
    settings, registry = load(demo)
    env = Environment.open(settings, registry)
    ahead = estimates_child.EstimatesChild.spawn()
    running: list[bool] = []
    try:
        result = run_pipeline(
            env, estimates_process=ahead, progress=lambda *_: running.append(ahead.running())
        )
        with env.engine.connect() as conn:
            kept = store.kept_estimates(conn)
    finally:
        ahead.close()
        env.engine.dispose()
    assert result.status == "succeeded"
    assert running
    assert not any(running)  # ended before the pull's first batch
    assert "estimates" not in result.counts
    assert kept is None


def test_the_peak_of_an_estimates_process_that_is_ending_is_the_one_it_answered(
    env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (memory counted honestly): the process ends at once after its answer, and for a
    moment it is still there with its memory let go (/proc shows no peak): a stage that ends
    then counts the peak it sent with its answer, not none."""
    child = _answering(env, tmp_path, monkeypatch, "{}")
    try:
        child._reading.join(timeout=120)  # it answered
        from adoptloop.pipeline.rss import high_water_mb as real

        # as it ends: still not waited for, its memory gone from /proc
        monkeypatch.setattr(child._process, "poll", lambda: None)
        monkeypatch.setattr(
            estimates_child, "high_water_mb", lambda pid=None: None if pid else real()
        )
        peak = child.high_water_mb()
    finally:
        child.close()
    assert peak is not None
    assert peak > 10  # an interpreter with adoptloop imported


def test_a_run_with_nothing_new_takes_the_kept_estimates_and_ends_its_process_unused(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (a night with nothing new): when the pull wrote nothing the estimates depend
    on, the run takes the kept estimates itself and ends its estimates process at once,
    instead of setting it to work and waiting for it to finish importing the statistics
    libraries only to answer with the same kept estimates; a run with new inputs sets it to
    work. Both publish the same estimates."""
    told: list[date] = []
    going = estimates_child.EstimatesChild.go
    children: list[estimates_child.EstimatesChild] = []
    starting = estimates_child.EstimatesChild.start.__func__  # type: ignore[attr-defined]

    def go(self: estimates_child.EstimatesChild, as_of: date) -> None:
        told.append(as_of)
        going(self, as_of)

    def start(cls: Any, *args: Any) -> estimates_child.EstimatesChild:
        child: estimates_child.EstimatesChild = starting(cls, *args)
        children.append(child)
        return child

    monkeypatch.setattr(estimates_child.EstimatesChild, "go", go)
    monkeypatch.setattr(estimates_child.EstimatesChild, "start", classmethod(start))
    settings, registry = load(demo)
    env = Environment.open(settings, registry)
    try:
        first = run_pipeline(env)
        told_first = len(told)
        second = run_pipeline(env)
    finally:
        env.engine.dispose()

    assert first.status == second.status == "succeeded"
    assert len(children) == 2
    assert told_first == 1  # the first run's inputs were new: its process read and fitted
    assert len(told) == 1  # the second's was never told to go
    assert not children[1].running()
    assert children[1].peak_rss_mb is None  # it never answered
    made, again = first.counts["estimates"], second.counts["estimates"]
    assert made["inputs"] == "read"
    assert made["fits"]["uplift"]["fitted"] > 0
    assert again["inputs"] == "unchanged"
    assert again["fits"]["uplift"] == {"fitted": 0, "reused": made["fits"]["uplift"]["fitted"]}
    for kind in ("uplift", "leniency"):  # the same estimates: nothing sent again or voided
        assert again[kind]["records"] == made[kind]["records"]
        assert again[kind]["statements"] == again[kind]["voided"] == 0
        assert again[kind]["unchanged"] == made[kind]["statements"]
    assert made["uplift"]["statements"] > 0


def test_the_estimates_process_keeps_the_counted_ratings_and_reads_them_the_next_run(
    demo: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (an incremental run's estimates), on SQLite and PostgreSQL: the first run's
    estimates process keeps every counted rating (estimate_ratings, at the inputs stamp it
    read); after a rating changed in the CRM drop, the next run's reads the kept ones and
    the marked person's, keeps them again (nobody left marked), and its estimates are a read
    of every rating's."""
    settings, registry = load(_with_store(demo, store_url, monkeypatch))
    env = Environment.open(settings, registry)
    try:
        run_pipeline(env)
        with env.engine.connect() as conn:
            first = kept_rating_columns(conn)
            assert first is not None
            assert first[0] == records.inputs_stamp(conn)
            assert estimate_dirty(conn) == []
        reports = demo.parent / "demo" / "crm" / "coaching_reports.csv"
        lines = reports.read_text(encoding="utf-8").splitlines(keepends=True)
        assert ",3,4,,,,4," in lines[1]
        lines[1] = lines[1].replace(",3,4,,,,4,", ",5,4,,,,4,")  # its opening rated 5, not 3
        reports.write_text("".join(lines), encoding="utf-8")
        second_run = run_pipeline(env)
        with env.engine.begin() as conn:
            second = kept_rating_columns(conn)
            assert second is not None
            assert second[0] == records.inputs_stamp(conn) != first[0]
            assert estimate_dirty(conn) == []
            published = store.kept_estimates(conn)
            # the same estimates from every rating read in this process (the kept ones
            # forgotten in this transaction only)
            meta = schema.meta
            conn.execute(delete(meta).where(meta.c.key == records.ESTIMATES_KEY))
            full = as_plain(estimates_as_of(conn, env.capabilities, env.as_of(None)))
            conn.rollback()
    finally:
        env.engine.dispose()
    assert second_run.counts["estimates"]["inputs"] == "read"
    assert published is not None
    assert published["uplift"] == full["uplift"]
    assert published["leniency"] == full["leniency"]


def test_counted_ratings_that_cannot_be_handed_over_are_not_kept_and_nothing_fails(
    env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 (kept estimate inputs): they are a copy of the store's rows, so a file the
    child cannot write, or one gone before the run keeps it, only means the next run reads
    every rating again: nothing is kept, nothing fails."""
    from adoptloop.adoption.raters import KeptRatings

    def no_room(**_: Any) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", no_room)
    assert estimates_child._ratings_file(KeptRatings("a-stamp", b"columns")) is None
    monkeypatch.undo()

    gone = estimates_child.KeptRatingsFile("a-stamp", str(tmp_path / "gone.bin"))
    with env.engine.begin() as conn:
        assert gone.keep(conn) is False
    with env.engine.connect() as conn:
        assert kept_rating_columns(conn) is None
