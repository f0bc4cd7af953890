"""Run a real SCIM 2.0 server on 127.0.0.1 for integration tests.

The server is `scim2-server` (PyPI, in the `test` extra): RFC 7643 schemas with the Enterprise
User extension, filters, sorting, startIndex/count paging, PATCH, static bearer tokens. It
keeps everything in memory. We start it with `--dynamic-tenants`, so each test takes a fresh
tenant (an empty directory under `/<tenant>/v2`) from one server process.

    with LocalScimServer() as server:
        base_url = server.base_url(server.new_tenant())  # http://127.0.0.1:PORT/t1a2b/v2
        httpx.post(base_url + "/Users", json={...}, headers=server.auth_headers)

POSIX only (process groups, signals).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

__all__ = ["LocalScimServer", "ScimServerError", "scim_server_available"]

_STOP_TIMEOUT = 5.0
_PORT_TRIES = 3


class ScimServerError(RuntimeError):
    """The SCIM server did not start; the message ends with the tail of its log."""


def scim_server_available() -> str | None:
    """None when scim2-server is installed here, else how to install it."""
    if importlib.util.find_spec("scim2_server") is None:
        return "scim2-server is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalScimServer:
    """A scim2-server process (context manager); `start()` and `stop()` are idempotent."""

    def __init__(self, *, token: str | None = None, startup_timeout: float = 30.0) -> None:
        self.token = token or secrets.token_urlsafe(16)
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmpdir: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def base_url(self, tenant: str) -> str:
        if self.port is None:
            raise ScimServerError("the SCIM server is not running; call start() first")
        return f"http://127.0.0.1:{self.port}/{tenant}/v2"

    @staticmethod
    def new_tenant() -> str:
        return "t" + secrets.token_hex(6)

    def start(self) -> Self:
        if self.running:
            return self
        reason = scim_server_available()
        if reason is not None:
            raise ScimServerError(reason)
        last_error: ScimServerError | None = None
        for _ in range(_PORT_TRIES):  # another process may take the free port we picked
            try:
                self._start_on(_free_port())
            except ScimServerError as exc:
                last_error = exc
                self.stop()
                continue
            return self
        raise last_error or ScimServerError("the SCIM server did not start")

    def _start_on(self, port: int) -> None:
        self._tmpdir = Path(tempfile.mkdtemp(prefix="adoptloop-scim-"))
        self._log = (self._tmpdir / "scim.log").open("wb")
        command = [
            sys.executable,
            "-m",
            "scim2_server.testserver.cli",
            "--hostname",
            "127.0.0.1",
            "--port",
            str(port),
            "--bearer-token",
            self.token,
            "--dynamic-tenants",
        ]
        self._proc = subprocess.Popen(
            command,
            cwd=str(self._tmpdir),
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() signals all of it
        )
        self.port = port
        self._wait_ready()

    def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None  # noqa: S101 - set by _start_on
        url = f"{self.base_url('ready-probe')}/ServiceProviderConfig"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ScimServerError(
                    f"scim2-server exited with status {proc.returncode}{self._tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, headers=self.auth_headers, timeout=2.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise ScimServerError(
            f"scim2-server was not ready after {self.startup_timeout:.0f}s{self._tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after a timeout; remove the log folder."""
        proc, self._proc = self._proc, None
        self.port = None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=_STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _tail(self, lines: int = 30) -> str:
        if self._tmpdir is None:
            return ""
        path = self._tmpdir / "scim.log"
        if not path.exists():
            return ""
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return "\n--- scim2-server log tail ---\n" + "\n".join(text) if text else " (log empty)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
