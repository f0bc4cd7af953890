"""The estimates computed in a short-lived process of their own, so that the run's process
(and the long-lived `serve` process) never imports the statistics libraries (issue 17: numpy,
pandas, scipy.stats and diff-diff add about 110 MB to a process, which it keeps).

The run starts the child first thing (`EstimatesChild.start`), before the pull: a fresh
interpreter (`python -m adoptloop.pipeline.estimates_child`, not multiprocessing's spawn,
which would import the run's own main module again) that imports the libraries while the
run's process pulls, on the other core. `adoptloop run` starts it earlier still, as the
command begins (`EstimatesChild.spawn`, when the uplift extra is installed): its imports then
run beside the command's own and the loading of the settings (about 0.6 s at the start of
every run that the child's imports no longer add to an incremental run's wait for the
estimates), and the run hands it the store and the capability map (`begin`), or ends it
unused when the settings say the estimates are not computed in a process of their own
(`in_own_process`). Once the estimates' inputs are committed the run
tells it the as-of date (`go`), unless the pull wrote nothing they depend on: the run then takes
the kept estimates itself and ends the child unused (pipeline/estimates.py
`current_estimates`), rather than wait for it to finish its imports only to answer the same.
A child told to go opens the store itself, reads and fits
(adoption/estimates.py `estimates_as_of`, on a connection of its own that only reads), and
sends back only the estimates as JSON (`estimates.as_plain`: the rows, their basis and the
fits they came from; the same values the store keeps) with its own peak resident memory,
read before it exits, and the counted ratings it read, for the next run's read, in a file it
names (`KeptRatingsFile`). The run's process keeps and publishes the estimates as before, and
keeps the ratings from the file a part at a time in the same transaction (not when the inputs
were written since the child's read): the child writes nothing, so a child that fails or dies
leaves the store as it was, and the stage fails with the child's error (its class and exit
status; a child that died without one: `EstimatesFailed`, exit 70).

The protocol is pickled messages on the child's stdin (`_Start`, then the as-of date) and one
JSON document back on its stdout; its log lines go to the stderr it shares with the run.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import date
from typing import IO, TYPE_CHECKING, Any

import orjson
import structlog

from adoptloop.adoption import estimators
from adoptloop.errors import AdoptloopError
from adoptloop.pipeline.rss import high_water_mb

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from adoptloop.adoption.estimates import Estimates
    from adoptloop.adoption.raters import KeptRatings
    from adoptloop.mappings.capability_map import CapabilityMap

log = structlog.get_logger(__name__)

# what the fits import, imported by the child while the run pulls (adoption/estimators.py)
_PRELOAD = ("numpy", "pandas", "diff_diff", "diff_diff.linalg")


class EstimatesFailed(AdoptloopError):
    """The estimates' process ended without its results, or with an error that does not say
    its own exit status (a bug: 70); nothing of the estimates was written."""


@dataclass(frozen=True)
class _Start:
    url: str
    capabilities: CapabilityMap
    log_level: int
    context: dict[str, Any]  # the run's log context (run_id, stage)


class EstimatesChild:
    """The run's handle on the child process (see the module's docstring)."""

    def __init__(self, process: subprocess.Popen[bytes], sends: IO[bytes], answers: IO[bytes]):
        self._process = process
        self._sends, self._answers = sends, answers
        self.peak_rss_mb: float | None = None  # the child's own VmHWM, once it answered
        self._answer: dict[str, Any] | None = None  # what it sent ({}: nothing)
        # its answer, taken from the pipe as it comes: a child whose answer outgrew the pipe's
        # buffer would otherwise sit blocked in its write, still running, until the estimates
        # stage read it (and the translate workers, waiting for it to end, never start)
        self._sent: list[bytes] = []
        self._reading = threading.Thread(target=self._take, name="estimates-answer", daemon=True)
        self._reading.start()

    @classmethod
    def start(cls, url: str, capabilities: CapabilityMap) -> EstimatesChild:
        """A child that imports the libraries now and waits for `go`."""
        return cls.spawn().begin(url, capabilities)

    @classmethod
    def spawn(cls) -> EstimatesChild:
        """A child that imports the libraries now, before it is told which store it reads
        (`begin`): a command starts it as it begins, beside its own imports."""
        process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        if process.stdin is None or process.stdout is None:  # pragma: no cover - piped above
            raise EstimatesFailed("the estimates process has no pipes")
        return cls(process, process.stdin, process.stdout)

    def begin(self, url: str, capabilities: CapabilityMap) -> EstimatesChild:
        """Tell the child the store it reads and the capability map, and the run's log level
        and context (then it waits for `go`)."""
        logger = structlog.get_logger().bind()
        start = _Start(
            url, capabilities, logger.get_effective_level(), structlog.contextvars.get_contextvars()
        )
        self._send(start)
        return self

    def go(self, as_of: date) -> None:
        """Start reading and fitting as of `as_of` (the inputs are committed)."""
        self._send(as_of)

    def estimates(self) -> Estimates:
        """The child's estimates, once it sent them (it then exits); its error otherwise."""
        from adoptloop.adoption.estimates import from_plain  # noqa: PLC0415 - the child's kit

        sent = self._receive()
        if not sent:
            raise EstimatesFailed(
                "the estimates process ended without its results (exit status "
                f"{self._process.returncode}); nothing of the estimates was written"
            )
        if "error" in sent:
            raise _error(sent["error"])
        return from_plain(sent["estimates"])

    def kept_ratings(self) -> KeptRatingsFile | None:
        """The counted ratings the child read, for the run to keep (once it answered; None
        when there is nothing new to keep). Taken once: what is not taken, `close` removes."""
        sent = self._receive().pop("kept_ratings", None)
        return None if sent is None else KeptRatingsFile(sent["stamp"], sent["path"])

    def running(self) -> bool:
        """Whether the child is still at work (it ends once it has answered)."""
        return self._process.poll() is None

    def high_water_mb(self) -> float | None:
        """The child's peak resident memory so far (the stages it runs beside add it to their
        workers'): read from /proc while it runs, from its answer once it ended or is ending
        (it ends at once after answering: its memory is let go before the process is gone,
        and /proc then shows no peak)."""
        if self._process.poll() is None:
            peak = high_water_mb(self._process.pid)
            if peak is not None or high_water_mb() is None:  # read, or no /proc here
                return peak
        self._receive()
        return self.peak_rss_mb

    def _take(self) -> None:
        """The reading thread: everything the child writes, until it ends."""
        with contextlib.suppress(OSError, ValueError):  # closed by `close`
            self._sent.append(self._answers.read())

    def _receive(self) -> dict[str, Any]:
        """What the child sent, read once (waits for it to end)."""
        if self._answer is None:
            self._reading.join()
            self._process.wait()
            answer = b"".join(self._sent)
            self._answer = orjson.loads(answer) if answer else {}
            self.peak_rss_mb = self._answer.get("peak_rss_mb")
        return self._answer

    def close(self) -> None:
        """Stop the child if it still runs (a run that failed or stopped before its estimates:
        it only reads, so nothing is lost), and remove the file of counted ratings it wrote
        for the run to keep, if the run did not take it."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._reading.join()  # the pipe ended with the child
        for stream in (self._sends, self._answers):
            with contextlib.suppress(OSError):
                stream.close()
        with contextlib.suppress(ValueError):  # an answer cut short names no file
            if self._sent and (kept := self.kept_ratings()) is not None:
                kept.discard()

    def _send(self, message: object) -> None:
        try:
            pickle.dump(message, self._sends)
            self._sends.flush()
        except OSError:  # the child is gone: `estimates` says so
            pass


def in_own_process(publish: bool, url: str) -> bool:
    """Whether a run computes its estimates in a process of its own: it publishes them
    (`publish`: the setting adoption.publish_estimates), the uplift extra is installed, and
    its store (`url`) is one that another process can open (not SQLite in memory: then the
    run's process computes them)."""
    if not publish:
        return False
    from adoptloop.store.db import shared  # noqa: PLC0415 - the command spawns us before it

    return shared(url) and estimators.installed()


def _error(sent: dict[str, Any]) -> AdoptloopError:
    """The child's error as the run raises it: the same exception when it was one of ours."""
    if sent.get("pickled"):
        with contextlib.suppress(Exception):
            found = pickle.loads(bytes.fromhex(sent["pickled"]))  # noqa: S301 - our own child
            if isinstance(found, AdoptloopError):
                return found
    return EstimatesFailed(
        f"the estimates failed ({sent['class']}); nothing of the estimates was written; this "
        "is a bug in adoptloop — please report it with the log line 'estimates failed' (run "
        "with --log-level debug for its traceback)"
    )


def _child(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The child's life: preload, start (the store to read), wait for the as-of date, compute,
    answer."""
    import importlib  # noqa: PLC0415

    from adoptloop import logging as adoptloop_logging  # noqa: PLC0415
    from adoptloop.adoption.estimates import as_plain, estimates_as_of  # noqa: PLC0415
    from adoptloop.pipeline.rss import own_high_water_mb  # noqa: PLC0415 - the child's kit
    from adoptloop.store.db import create_store_engine, streaming  # noqa: PLC0415

    # at once: while the command that started us loads its settings and the run pulls; a
    # missing one fails the fit, as in-process
    for module in _PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    # what the process holds now (the libraries' modules, classes and functions) lives as long
    # as it does: out of the collector's way, which the read's and the fits' many short-lived
    # objects call on (its full passes walked all of it each time)
    gc.freeze()
    try:
        start: _Start = pickle.load(stdin)  # noqa: S301 - from the run that started us
    except EOFError:  # started ahead for a run that did not use us
        return
    adoptloop_logging.configure(level=start.log_level)
    structlog.contextvars.bind_contextvars(**start.context)
    try:
        as_of: date = pickle.load(stdin)  # noqa: S301
    except EOFError:  # the run ended before its estimates
        return
    answer: dict[str, Any]
    try:
        engine = create_store_engine(start.url)
        with streaming(engine) as conn:  # the read passes each page once: no 24 MB cache
            # no collection of the fits' garbage: the process ends once it has answered
            found = estimates_as_of(conn, start.capabilities, as_of, free=False, kept_ratings=True)
        engine.dispose()
        answer = {"estimates": as_plain(found), "kept_ratings": _ratings_file(found.kept_ratings)}
    except Exception as exc:  # every error goes back to the run
        log.error("estimates failed", error=exc.__class__.__name__)  # noqa: TRY400
        log.debug("estimates failed", exc_info=exc)  # the traceback, only when asked for
        answer = {"error": {"class": exc.__class__.__name__, "pickled": _pickled(exc)}}
    answer["peak_rss_mb"] = round(own_high_water_mb(), 1)
    stdout.write(orjson.dumps(answer))
    stdout.flush()


def _ratings_file(kept: KeptRatings | None) -> dict[str, Any] | None:
    """The counted ratings read, to keep for the next run's read, in a file of their own
    (the answer names it; the run keeps them, pipeline/estimates.py): None when there is
    nothing new to keep."""
    if kept is None or kept.columns is None:
        return None
    try:
        handle, path = tempfile.mkstemp(prefix="adoptloop-ratings-", suffix=".bin")
        with os.fdopen(handle, "wb") as out:
            out.write(kept.columns)
    except OSError as exc:  # the next run reads every rating again: nothing is lost
        log.warning("estimates' inputs not kept", error=str(exc))
        return None
    return {"stamp": kept.stamp, "path": path}


class KeptRatingsFile:
    """The counted ratings the child read (a file it wrote, `_ratings_file`), kept in the
    store by the run (`keep`) a part at a time, so that the run's process never holds them
    whole; the file is removed once kept or let go (`discard`)."""

    PART = 2**20  # bytes a part (a row of estimate_ratings)

    def __init__(self, stamp: str | None, path: str) -> None:
        self.stamp, self.path = stamp, path

    def keep(self, conn: Connection) -> bool:
        """Keep them (store.metrics.keep_rating_columns: not when the inputs were written
        since the child's read), in the caller's write transaction; the file is removed."""
        from adoptloop.store.metrics import keep_rating_columns  # noqa: PLC0415

        try:
            data = open(self.path, "rb")  # noqa: PTH123, SIM115 - read a part at a time
        except OSError as exc:  # gone (a temp files' cleaner): the next run reads them again
            log.warning("estimates' inputs not kept", error=str(exc))
            return False
        try:
            with data:
                kept = keep_rating_columns(
                    conn, self.stamp, iter(functools.partial(data.read, self.PART), b"")
                )
        finally:
            self.discard()
        log.debug("estimates' inputs kept" if kept else "estimates' inputs written since")
        return kept

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # noqa: PTH108


def _pickled(exc: Exception) -> str | None:
    if not isinstance(exc, AdoptloopError):
        return None
    try:
        return pickle.dumps(exc).hex()
    except Exception:  # noqa: BLE001 - sent as its class name instead
        return None


if __name__ == "__main__":
    import os
    import signal

    # Ctrl-C or a service manager's stop signals the whole process group: the run stops at
    # its next checkpoint and ends the child itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # the answer goes to the stdout the run reads; anything a library prints, to stderr
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _child(sys.stdin.buffer, answers)
    # answered (and flushed): end now, without the interpreter's teardown, which frees the
    # fits' objects and the libraries' modules one by one (about 0.25 s at 10,000 reps, that
    # the run's estimates stage waited for: it reads the answer to the pipe's end)
    sys.stdout.flush()  # what a library printed (to the stderr too, see above)
    sys.stderr.flush()
    os._exit(0)
