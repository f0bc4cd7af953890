"""The lifecycle shared by the test harnesses that run a server as a child process.

A harness (the local LRS, ralph, the SCIM server) subclasses ``ServerProcess`` and keeps only
what is its own: how to start its server and how to tell that it answers. The base gives each
run a temp directory with a log of the server's combined stdout/stderr, starts the server in a
process group of its own so that ``stop()`` can signal all of it, polls until the server is
ready or has died, and puts the tail of the log into every startup error, since that log is
the only trace of why a server did not come up.

POSIX only (process groups, signals).
"""

from __future__ import annotations

import abc
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self, TypeVar

__all__ = ["LOOPBACK", "ServerProcess"]

LOOPBACK = "127.0.0.1"
_STOP_TIMEOUT = 5.0
_LOG_TAIL_LINES = 40
_POLL_INTERVAL = 0.05

_T = TypeVar("_T")


class ServerProcess(abc.ABC):
    """A server child process with its temp directory and log (context manager).

    Subclasses set the class attributes below, implement ``start()`` with ``_make_workspace``,
    ``_spawn`` and ``_wait_until``, and reset their own state in ``stop()`` before calling
    ``super().stop()``.
    """

    display_name: ClassVar[str]
    """The server as error messages name it, e.g. ``"ralph"``."""
    log_label: ClassVar[str]
    """The server as the header of a log tail names it."""
    log_name: ClassVar[str]
    """The log's file name in the temp directory."""
    startup_error: ClassVar[type[Exception]]
    """What ``_wait_until`` raises when the server dies or does not become ready in time."""

    def __init__(self, *, startup_timeout: float) -> None:
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmpdir: Path | None = None
        self._log_file: IO[bytes] | None = None

    @abc.abstractmethod
    def start(self) -> object:
        """Start the server unless it is running, and wait until it answers."""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the server (None when not started)."""
        return None if self._proc is None else self._proc.pid

    @property
    def log_path(self) -> Path | None:
        """The server's combined stdout/stderr log (None when not started)."""
        return None if self._tmpdir is None else self._tmpdir / self.log_name

    def _make_workspace(self, prefix: str) -> Path:
        """Create this run's temp directory and open its log; ``stop()`` removes both."""
        self._tmpdir = Path(tempfile.mkdtemp(prefix=prefix))
        self._log_file = (self._tmpdir / self.log_name).open("wb")
        return self._tmpdir

    def _spawn(self, argv: list[str], *, cwd: Path, env: dict[str, str], stdin: int) -> None:
        """Start the server logging to this run's log, in a process group of its own.

        ``stdin=subprocess.PIPE`` suits a server that exits when its stdin closes: ``stop()``
        closes it, and the OS does when the test process dies without stopping it.
        """
        self._proc = subprocess.Popen(
            argv,
            cwd=str(cwd),
            env=env,
            stdin=stdin,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait_until(self, ready: Callable[[], _T | None]) -> _T:
        """Poll ``ready`` until it returns a value; fail once the server exits or time runs out."""
        proc = self._proc
        if proc is None:
            raise self.startup_error(f"{self.display_name} is not running")
        deadline = time.monotonic() + self.startup_timeout
        while True:
            result = ready()
            if result is not None:
                return result
            code = proc.poll()
            if code is not None:
                raise self.startup_error(
                    f"{self.display_name} exited with status {code} before it was ready"
                    f"{self._tail_suffix()}"
                )
            if time.monotonic() >= deadline:
                raise self.startup_error(
                    f"{self.display_name} was not ready after {self.startup_timeout:.1f}s"
                    f"{self._tail_suffix()}"
                )
            time.sleep(_POLL_INTERVAL)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after a timeout; remove its files.

        Idempotent. The servers start no children, so nothing is left in the group once its
        leader is reaped; signalling the group after that could hit whoever reuses its pgid.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait(timeout=_STOP_TIMEOUT)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def read_log(self) -> str | None:
        """The whole log so far (None when not started)."""
        path = self.log_path
        if path is None or not path.exists():
            return None
        if self._log_file is not None:
            self._log_file.flush()
        return path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the log ('' when there is none)."""
        return "\n".join((self.read_log() or "").splitlines()[-lines:])

    def _tail_suffix(self) -> str:
        tail = self.log_tail()
        if not tail:
            return " (log is empty)"
        return f"\n--- {self.log_label} log tail ({self.log_path}) ---\n{tail}"


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # start_new_session=True: pgid == pid
