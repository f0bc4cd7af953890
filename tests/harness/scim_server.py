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
import socket
import subprocess
import sys
from typing import Self

import httpx

from tests.harness.process import LOOPBACK, ServerProcess

__all__ = ["LocalScimServer", "ScimServerError", "scim_server_available"]

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
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class LocalScimServer(ServerProcess):
    """A scim2-server process (context manager); `start()` and `stop()` are idempotent."""

    display_name = "scim2-server"
    log_label = "scim2-server"
    log_name = "scim.log"
    startup_error = ScimServerError

    def __init__(self, *, token: str | None = None, startup_timeout: float = 30.0) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self.token = token or secrets.token_urlsafe(16)
        self.port: int | None = None

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def base_url(self, tenant: str) -> str:
        if self.port is None:
            raise ScimServerError("the SCIM server is not running; call start() first")
        return f"http://{LOOPBACK}:{self.port}/{tenant}/v2"

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
        tmpdir = self._make_workspace("adoptloop-scim-")
        command = [
            sys.executable,
            "-m",
            "scim2_server.testserver.cli",
            "--hostname",
            LOOPBACK,
            "--port",
            str(port),
            f"--bearer-token={self.token}",  # one argument: a token may start with "-"
            "--dynamic-tenants",
        ]
        self._spawn(command, cwd=tmpdir, env=dict(os.environ), stdin=subprocess.DEVNULL)
        self.port = port
        self._wait_until(self._answers)

    def _answers(self) -> bool | None:
        url = f"{self.base_url('ready-probe')}/ServiceProviderConfig"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=self.auth_headers, timeout=2.0).status_code == 200:
                return True
        return None

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after a timeout; remove the log folder."""
        self.port = None
        super().stop()
