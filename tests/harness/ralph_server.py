"""Run ralph (openfun's LRS, PyPI ``ralph-malph``) on 127.0.0.1 for compatibility tests.

ralph lives in its own virtualenv, ``tests/lrs/.ralph-venv``, so that its pinned dependencies
never touch ours. Install once (CI included)::

    python3.11 -m venv tests/lrs/.ralph-venv
    tests/lrs/.ralph-venv/bin/pip install -q 'ralph-malph[cli,lrs]==5.1.0' requests

Use::

    with RalphLRS() as ralph:
        info = ralph.info  # endpoint "http://127.0.0.1:PORT/xAPI/", username, password
        statements = ralph.statements()

What the harness does, and why (read from ralph-malph 5.1.0's code, then observed):

- ``ralph auth -u .. -p .. -s all -M mailto:.. -w`` writes the HTTP Basic credentials (a bcrypt
  hash) to ``RALPH_AUTH_FILE``, a file in our temp directory. Importing the credentials model
  imports ``ralph.api``, which builds the configured LRS backend, so the command needs
  ``RALPH_RUNSERVER_BACKEND=fs`` too (the default, ``es``, is not installed).
- ralph's ``[cli,lrs]`` extras do not pull in ``requests``, which ``ralph.api.auth.oidc`` imports
  unconditionally: without it every ``ralph auth`` and ``ralph runserver`` dies with
  ``ModuleNotFoundError``. Hence ``requests`` in the install command.
- The filesystem backend writes with its default operation type, ``create``, which refuses to
  write to an existing ``fs_lrs.jsonl``: the first POST is stored, every later one that holds a
  new statement answers **500** ``Statements bulk indexation failed``. ralph has no setting for
  this (``ralph runserver`` only takes the fs backend's directory, file name, query string,
  encoding and chunk sizes). So instead of ``ralph runserver`` (which only runs
  ``uvicorn.run("ralph.api:app", reload=True)``) our launcher sets the fs LRS backend's
  default operation type to ``append`` and serves the same ``ralph.api:app`` with uvicorn,
  without the reloader (one process), bound to 127.0.0.1 on a port the kernel picks (uvicorn
  logs the real one), and exits when its stdin closes.
- Settings come from ``RALPH_*`` environment variables; ours are set explicitly and inherited
  ``RALPH_*`` ones dropped. The process runs in an empty directory of its own (ralph reads a
  ``.env`` from the working directory) and ``RALPH_APP_DIR`` points into our temp directory
  (the fs backend appends to ``history.json`` there on every read and write).

Observed behaviour of ralph 5.1.0 (fs backend):

- There is no ``/xAPI/about``; ``/__heartbeat__`` says whether the backend is usable.
- POST ``statements``: new statements → 200 with their ids; a batch whose statements are all
  stored already (identical) → **204**, empty body; a batch mixing stored and new ones → 200
  with only the new ids; same id, different content → 409 (``{"detail": "Differing statements
  already exist with the same ID: .."}``); a statement that fails ralph's (lax) model → **422**
  with FastAPI's ``{"detail": [{"type", "loc": ["body", <index>, ..], "msg", ..}]}``, nothing of
  the batch stored. ralph checks only ``actor``, ``id`` (a UUID), ``verb.id`` and
  ``object.id``: a ``timestamp`` without a zone is accepted as is. Surprising: when the
  validation error carries an exception (an actor ``mbox`` that is not a ``mailto:`` IRI),
  ralph cannot serialise its own 422 (``TypeError: Object of type ValueError is not JSON
  serializable`` in its log) and answers **500** ``Internal Server Error`` (text/plain), which
  a client retries as transient. We never send such a statement (our validator rejects it).
- Wrong or missing credentials → 401 ``{"detail": "Invalid authentication credentials"}``.
- GET ``statements``: at most 100 per page (``RUNSERVER_MAX_SEARCH_HITS_COUNT``), ``more`` is a
  path to resolve against the origin; a page of exactly ``limit`` statements always has a
  ``more``, possibly leading to an empty page. ``statementId`` answers 200 with
  ``{"statements": [..]}`` (an empty list for an unknown id), not the bare statement or 404.
  Voiding is not implemented: ``voidedStatementId`` returns the statement like ``statementId``.

POSIX only (process groups, signals).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.harness.lrs_server import (
    LRSError,
    LRSInfo,
    LRSStartupError,
    check_credentials,
    statement_pages,
    xapi_client,
)
from tests.harness.process import LOOPBACK, ServerProcess

__all__ = [
    "INSTALL_COMMAND",
    "RALPH_REQUIREMENTS",
    "RalphLRS",
    "RalphStartupError",
    "RalphUnavailableError",
    "default_ralph_venv",
    "ralph_available",
]

RALPH_REQUIREMENTS = ("ralph-malph[cli,lrs]==5.1.0", "requests")
INSTALL_COMMAND = (
    "python3.11 -m venv tests/lrs/.ralph-venv && tests/lrs/.ralph-venv/bin/pip install -q "
    "'ralph-malph[cli,lrs]==5.1.0' requests"
)
_READY_RE = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+) ")
# uvicorn's access log: `127.0.0.1:40376 - "POST /xAPI/statements HTTP/1.1" 204`
_POST_STATEMENTS_RE = re.compile(r'"POST /xAPI/statements(?:\?\S*)? HTTP/[\d.]+" (\d{3})')

# Run by the ralph venv's python. See the module docstring for why not `ralph runserver`.
_LAUNCHER = """
import sys
import threading

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend
from ralph.conf import settings

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

server = uvicorn.Server(
    uvicorn.Config(
        "ralph.api:app", host=sys.argv[1], port=0, log_config=settings.LOGGING, log_level="info"
    )
)


def exit_on_stdin_eof():
    sys.stdin.buffer.read()
    server.should_exit = True


threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
server.run()
"""


class RalphUnavailableError(LRSError):
    """ralph's virtualenv is missing or incomplete; the message says how to fix it."""


class RalphStartupError(LRSStartupError):
    """ralph did not become ready; the message ends with the tail of its log."""


def default_ralph_venv() -> Path:
    """The repo's ``tests/lrs/.ralph-venv`` (found from this file)."""
    # tests/harness/ralph_server.py -> parents[2] is the repository root.
    return Path(__file__).resolve().parents[2] / "tests" / "lrs" / ".ralph-venv"


def ralph_available(venv: Path | None = None) -> str | None:
    """None when ralph's virtualenv is installed, else why not and the command to install it."""
    venv = venv if venv is not None else default_ralph_venv()
    if not (venv / "bin" / "ralph").is_file():
        return f"ralph is not installed in {venv}; run: {INSTALL_COMMAND}"
    if not any(venv.glob("lib/python3*/site-packages/requests/__init__.py")):
        return (
            f"{venv} lacks requests, which ralph imports but its extras do not install; "
            f"run: {venv / 'bin' / 'pip'} install -q requests"
        )
    return None


class RalphLRS(ServerProcess):
    """ralph serving xAPI on 127.0.0.1 with its filesystem backend and HTTP Basic auth.

    A context manager; ``start()`` and ``stop()`` are idempotent. Statements are kept in a
    temp directory that ``stop()`` removes.
    """

    display_name = "ralph"
    log_label = "ralph"
    log_name = "ralph.log"
    startup_error = RalphStartupError

    def __init__(
        self,
        *,
        venv: Path | None = None,
        username: str = "adoptloop",
        password: str = "test-secret",  # noqa: S107 -- a throwaway local test LRS
        agent_mbox: str = "mailto:adoptloop@example.org",
        startup_timeout: float = 60.0,
    ) -> None:
        check_credentials(username, password)
        super().__init__(startup_timeout=startup_timeout)
        self.venv = venv if venv is not None else default_ralph_venv()
        self.username = username
        self.password = password
        self.agent_mbox = agent_mbox
        self._info: LRSInfo | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def info(self) -> LRSInfo:
        """Connection details of the running ralph (raises if not started)."""
        if self._info is None:
            raise LRSError("ralph is not running; call start() first")
        return self._info

    @property
    def data_dir(self) -> Path | None:
        """Where the fs backend keeps ``fs_lrs.jsonl`` (None when not started)."""
        return None if self._tmpdir is None else self._tmpdir / "data"

    def start(self) -> LRSInfo:
        """Write the auth file, start ralph and wait until it answers; returns its details."""
        if self._info is not None and self.running:
            return self._info
        if self._proc is not None or self._tmpdir is not None:
            self.stop()  # a previous process died: clean up before starting again
        reason = ralph_available(self.venv)
        if reason is not None:
            raise RalphUnavailableError(f"ralph unavailable: {reason}")

        tmpdir = self._make_workspace("adoptloop-ralph-")
        workdir = tmpdir / "run"  # empty: ralph would read a .env from its cwd
        workdir.mkdir()
        (tmpdir / "data").mkdir()
        env = self._environment(tmpdir)
        try:
            self._write_auth_file(env, workdir)
            self._spawn(
                [str(self.venv / "bin" / "python"), "-c", _LAUNCHER, LOOPBACK],
                cwd=workdir,
                env=env,
                stdin=subprocess.PIPE,
            )
            port = self._wait_until(self._healthy_port)
            self._info = LRSInfo(
                endpoint=f"http://{LOOPBACK}:{port}/xAPI/",
                username=self.username,
                password=self.password,
            )
            self._check_credentials()
        except OSError as exc:
            self.stop()
            raise RalphStartupError(f"could not run ralph: {exc}") from exc
        except BaseException:
            self.stop()  # RalphStartupError messages already carry the log tail
            raise
        return self._info

    def _environment(self, tmpdir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update(
            {
                "RALPH_APP_DIR": str(tmpdir / "app"),
                "RALPH_AUTH_FILE": str(tmpdir / "auth.json"),
                "RALPH_RUNSERVER_BACKEND": "fs",
                "RALPH_RUNSERVER_AUTH_BACKENDS": "basic",
                "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(tmpdir / "data"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _write_auth_file(self, env: dict[str, str], workdir: Path) -> None:
        command = [
            str(self.venv / "bin" / "ralph"),
            "auth",
            "--username",
            self.username,
            "--password",
            self.password,
            "--scope",
            "all",
            "--agent-ifi-mbox",
            self.agent_mbox,
            "--write-to-disk",
        ]
        try:
            done = subprocess.run(
                command,
                cwd=str(workdir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                timeout=self.startup_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RalphStartupError(
                f"`ralph auth` did not finish in {self.startup_timeout:.1f}s{self._tail_suffix()}"
            ) from exc
        if done.returncode != 0 or not Path(env["RALPH_AUTH_FILE"]).is_file():
            raise RalphStartupError(
                f"`ralph auth` exited with status {done.returncode} without writing the auth "
                f"file{self._tail_suffix()}"
            )

    def _healthy_port(self) -> int | None:
        """uvicorn logs its port once the app has started; then the backend must be healthy."""
        match = _READY_RE.search(self.read_log() or "")
        if match is None:
            return None
        port = int(match.group(1))
        return port if self._healthy(port) else None

    @staticmethod
    def _healthy(port: int) -> bool:
        try:
            response = httpx.get(f"http://{LOOPBACK}:{port}/__heartbeat__", timeout=5.0)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    def _check_credentials(self) -> None:
        with self.client() as http:
            response = http.get("statements", params={"limit": 1})
        if response.status_code != httpx.codes.OK:
            raise RalphStartupError(
                f"ralph answered {response.status_code} to an authenticated GET statements: "
                f"{response.text[:500]}{self._tail_suffix()}"
            )

    def stop(self) -> None:
        """SIGTERM ralph's process group, SIGKILL it after a timeout; remove its files."""
        self._info = None
        super().stop()

    # ------------------------------------------------------------------ diagnostics
    def post_statuses(self) -> list[int]:
        """The status of every POST statements answered so far, oldest first (from the log)."""
        text = self.read_log() if self._log_file is not None else None
        if text is None:
            raise LRSError("ralph is not running; call start() first")
        return [int(status) for status in _POST_STATEMENTS_RE.findall(text)]

    # ------------------------------------------------------------------ queries
    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client for ralph: base URL = endpoint, Basic auth, xAPI version header."""
        return xapi_client(self.info, **kwargs)

    def statements(self) -> list[dict[str, Any]]:
        """Every statement ralph holds, read with GET statements following each ``more``."""
        with self.client() as http:
            pages = statement_pages(
                http, f"{self.info.endpoint}statements?limit=100", server="ralph"
            )
            return [statement for page in pages for statement in page.get("statements", [])]
