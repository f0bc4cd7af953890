"""Run a real, strict xAPI Learning Record Store on 127.0.0.1 for integration tests.

The LRS is Learning Locker's statement service (npm package ``xapi-statements``, pinned in
``tests/lrs/package.json``) started by our ``tests/lrs/launcher.js``, which binds it to
127.0.0.1 only, checks HTTP Basic credentials and can simulate an outage (503). Everything is
kept in memory by the service and lost when it stops. See ``tests/lrs/NOTES.md`` for the
behaviour observed.

Install once (CI included)::

    npm ci --ignore-scripts --prefix tests/lrs

Use::

    with LocalLRS() as lrs:
        info = lrs.start()  # idempotent; __enter__ already started it
        httpx.get(info.endpoint + "statements", auth=(info.username, info.password), ...)

POSIX only (process groups, signals).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import urljoin

import httpx

__all__ = [
    "LRSError",
    "LRSInfo",
    "LRSStartupError",
    "LRSUnavailableError",
    "LocalLRS",
    "default_lrs_root",
    "lrs_available",
]

PACKAGE_NAME = "xapi-statements"
XAPI_VERSION = "1.0.3"
ENV_LRS_DIR = "ADOPTLOOP_LRS_DIR"
_READY_RE = re.compile(r"^LRS ready on http://127\.0\.0\.1:(\d+)/xAPI\s*$", re.MULTILINE)
_STOP_TIMEOUT = 5.0
_LOG_TAIL_LINES = 40


class LRSError(RuntimeError):
    """Base class for errors of the local LRS harness."""


class LRSUnavailableError(LRSError):
    """node or the npm package is missing; the message says how to fix it."""


class LRSStartupError(LRSError):
    """The launcher did not become ready; the message ends with the tail of its log."""


@dataclass(frozen=True)
class LRSInfo:
    """Where and how to reach a running local LRS."""

    endpoint: str  # "http://127.0.0.1:PORT/xAPI/" (with trailing slash)
    username: str
    password: str


def default_lrs_root() -> Path:
    """``$ADOPTLOOP_LRS_DIR`` if set, else the repo's ``tests/lrs`` (found from this file)."""
    override = os.environ.get(ENV_LRS_DIR)
    if override:
        return Path(override).expanduser().resolve()
    # src/adoptloop/testing/lrs_server.py -> parents[3] is the repository root.
    return Path(__file__).resolve().parents[3] / "tests" / "lrs"


def _node_executable() -> str | None:
    return shutil.which("node")


def _unavailable_reason(root: Path) -> str | None:
    if _node_executable() is None:
        return "node not found"
    if not (root / "launcher.js").is_file():
        return f"LRS launcher not found: {root / 'launcher.js'} (set {ENV_LRS_DIR}?)"
    manifest = root / "node_modules" / PACKAGE_NAME / "package.json"
    install_hint = f"run: npm ci --ignore-scripts --prefix {_display_path(root)}"
    if not manifest.is_file():
        return install_hint
    try:
        main = json.loads(manifest.read_text(encoding="utf-8")).get("main", "index.js")
    except (OSError, ValueError):
        return install_hint
    if not (manifest.parent / str(main)).is_file():
        return install_hint
    return None


def _display_path(root: Path) -> str:
    try:
        return str(root.relative_to(Path.cwd()))
    except ValueError:
        return str(root)


def lrs_available(root: Path | None = None) -> str | None:
    """None when node and the installed npm package are present, else why not (human text)."""
    return _unavailable_reason(root if root is not None else default_lrs_root())


class LocalLRS:
    """A local LRS process (context manager). ``start()`` is idempotent; ``stop()`` too."""

    def __init__(
        self,
        *,
        root: Path | None = None,
        username: str = "adoptloop",
        password: str = "test-secret",  # noqa: S107 -- a throwaway local test LRS
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if not username or ":" in username:
            raise ValueError("username must be non-empty and must not contain ':'")
        if not password:
            raise ValueError("password must be non-empty")
        self.root = root if root is not None else default_lrs_root()
        self.username = username
        self.password = password
        self.port = port
        self.startup_timeout = startup_timeout
        self._control_token = secrets.token_urlsafe(24)
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmpdir: Path | None = None
        self._log_file: IO[bytes] | None = None
        self._info: LRSInfo | None = None
        self._base_url = ""

    # ------------------------------------------------------------------ lifecycle
    @property
    def info(self) -> LRSInfo:
        """Connection details of the running LRS (raises if not started)."""
        if self._info is None:
            raise LRSError("the local LRS is not running; call start() first")
        return self._info

    @property
    def log_path(self) -> Path | None:
        """The launcher's combined stdout/stderr log (None when not started)."""
        return None if self._tmpdir is None else self._tmpdir / "lrs.log"

    @property
    def pid(self) -> int | None:
        """Process id of the launcher (None when not started)."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> LRSInfo:
        """Start the launcher and wait for its ready line; returns the connection details."""
        if self._info is not None and self.running:
            return self._info
        if self._proc is not None:
            self.stop()  # a previous process died: clean up before starting again
        reason = lrs_available(self.root)
        if reason is not None:
            raise LRSUnavailableError(f"local LRS unavailable: {reason}")
        node = _node_executable()
        if node is None:  # checked by lrs_available; only a race could get here
            raise LRSUnavailableError("local LRS unavailable: node not found")

        self._tmpdir = Path(tempfile.mkdtemp(prefix="adoptloop-lrs-"))
        data_dir = self._tmpdir / "data"
        data_dir.mkdir()
        log_path = self._tmpdir / "lrs.log"
        self._log_file = log_path.open("wb")
        env = dict(os.environ)
        env.update(
            {
                # 0 lets the kernel pick a free port atomically; the ready line reports it.
                "LRS_PORT": str(self.port if self.port is not None else 0),
                "LRS_USERNAME": self.username,
                "LRS_PASSWORD": self.password,
                "LRS_CONTROL_TOKEN": self._control_token,
                "LRS_DATA_DIR": str(data_dir),
                "LRS_EXIT_ON_STDIN_EOF": "1",
            }
        )
        try:
            self._proc = subprocess.Popen(
                [node, str(self.root / "launcher.js")],
                cwd=str(data_dir),
                env=env,
                stdin=subprocess.PIPE,  # closed by stop(), or by the OS if we die
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, so stop() can signal all of it
            )
        except OSError as exc:
            self._cleanup_files()
            raise LRSStartupError(f"could not run node: {exc}") from exc

        try:
            actual_port = self._wait_ready(log_path)
            self._base_url = f"http://127.0.0.1:{actual_port}"
            self._info = LRSInfo(
                endpoint=f"{self._base_url}/xAPI/",
                username=self.username,
                password=self.password,
            )
            self._check_about()
        except BaseException:
            # LRSStartupError messages already carry the log tail; stop() removes the log.
            self.stop()
            raise
        return self._info

    def _wait_ready(self, log_path: Path) -> int:
        proc = self._proc
        if proc is None:
            raise LRSStartupError("the LRS launcher is not running")
        deadline = time.monotonic() + self.startup_timeout
        while True:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            match = _READY_RE.search(text)
            if match:
                return int(match.group(1))
            code = proc.poll()
            if code is not None:
                raise LRSStartupError(
                    f"the LRS launcher exited with status {code} before it was ready"
                    f"{self._tail_suffix()}"
                )
            if time.monotonic() >= deadline:
                raise LRSStartupError(
                    f"the LRS launcher was not ready after {self.startup_timeout:.1f}s"
                    f"{self._tail_suffix()}"
                )
            time.sleep(0.05)

    def _check_about(self) -> None:
        try:
            response = httpx.get(f"{self._base_url}/xAPI/about", timeout=10.0)
        except httpx.HTTPError as exc:
            raise LRSStartupError(
                f"the LRS printed its ready line but GET /xAPI/about failed: {exc!r}"
                f"{self._tail_suffix()}"
            ) from exc
        if response.status_code != httpx.codes.OK:
            raise LRSStartupError(
                f"GET /xAPI/about answered {response.status_code}: {response.text[:500]}"
                f"{self._tail_suffix()}"
            )

    def stop(self) -> None:
        """SIGTERM the launcher's process group, SIGKILL it after a timeout; remove temp files."""
        proc, self._proc = self._proc, None
        self._info = None
        self._base_url = ""
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            if proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc, signal.SIGKILL)
                    proc.wait(timeout=_STOP_TIMEOUT)
            # The launcher starts no children, so nothing is left in the group. (No killpg after
            # the leader is reaped: its pgid could then belong to someone else.)
        self._cleanup_files()

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)  # start_new_session=True: pgid == pid

    def _cleanup_files(self) -> None:
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

    # ------------------------------------------------------------------ diagnostics
    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the launcher's log ('' when there is none)."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        text = path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _tail_suffix(self) -> str:
        tail = self.log_tail()
        return f"\n--- LRS log tail ({self.log_path}) ---\n{tail}" if tail else " (log is empty)"

    # ------------------------------------------------------------------ outage simulation
    def pause(self) -> None:
        """From now on every /xAPI/ request (about included) answers 503 + Retry-After: 1."""
        self._control("pause", expect_paused=True)

    def resume(self) -> None:
        """End the simulated outage."""
        self._control("resume", expect_paused=False)

    def _control(self, action: str, *, expect_paused: bool) -> None:
        base_url = self.info.endpoint.removesuffix("/xAPI/")  # raises when not running
        response = httpx.post(
            f"{base_url}/_control/{action}",
            headers={"X-LRS-Control-Token": self._control_token},
            timeout=10.0,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("paused") is not expect_paused:
            raise LRSError(f"control {action!r} answered {body!r}")

    # ------------------------------------------------------------------ queries
    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client for the LRS: base URL = endpoint, Basic auth, xAPI version header."""
        info = self.info
        headers = {"X-Experience-API-Version": XAPI_VERSION}
        headers.update(kwargs.pop("headers", {}))
        return httpx.Client(
            base_url=info.endpoint,
            auth=(info.username, info.password),
            headers=headers,
            timeout=kwargs.pop("timeout", 30.0),
            **kwargs,
        )

    def statements_count(self) -> int:
        """Count the statements a GET /statements query returns, following every ``more`` link.

        As xAPI prescribes, voided statements are not returned by such a query (so they are not
        counted); voiding statements are.
        """
        count = 0
        with self.client() as http:
            url = f"{self.info.endpoint}statements?limit=500"
            seen: set[str] = set()
            while url:
                if url in seen:
                    raise LRSError(f"the LRS returned the same 'more' link twice: {url}")
                seen.add(url)
                response = http.get(url)
                response.raise_for_status()
                page: dict[str, Any] = response.json()
                count += len(page.get("statements", []))
                more = page.get("more") or ""
                url = urljoin(url, more) if more else ""
        return count
