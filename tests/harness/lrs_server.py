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

import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.harness.process import LOOPBACK, ServerProcess

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
    # tests/harness/lrs_server.py -> parents[2] is the repository root.
    return Path(__file__).resolve().parents[2] / "tests" / "lrs"


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


def check_credentials(username: str, password: str) -> None:
    """Refuse credentials that HTTP Basic auth cannot carry (a ':' ends the username)."""
    if not username or ":" in username:
        raise ValueError("username must be non-empty and must not contain ':'")
    if not password:
        raise ValueError("password must be non-empty")


def xapi_client(info: LRSInfo, **kwargs: Any) -> httpx.Client:
    """An httpx client for an LRS: base URL = endpoint, Basic auth, xAPI version header."""
    headers = {"X-Experience-API-Version": XAPI_VERSION}
    headers.update(kwargs.pop("headers", {}))
    return httpx.Client(
        base_url=info.endpoint,
        auth=(info.username, info.password),
        headers=headers,
        timeout=kwargs.pop("timeout", 30.0),
        **kwargs,
    )


COUNT_PAGE = 1_000_000  # statements per page when counting (see LocalLRS.statements_count)


def statement_pages(http: httpx.Client, url: str, *, server: str) -> Iterator[dict[str, Any]]:
    """Every page of a GET statements query from ``url`` on, following each ``more`` link.

    ``server`` names the LRS in the error raised when it loops by repeating a ``more`` link.
    """
    seen: set[str] = set()
    while url:
        if url in seen:
            raise LRSError(f"{server} returned the same 'more' link twice: {url}")
        seen.add(url)
        response = http.get(url)
        response.raise_for_status()
        page: dict[str, Any] = response.json()
        yield page
        more = page.get("more") or ""
        url = urljoin(url, more) if more else ""


class LocalLRS(ServerProcess):
    """A local LRS process (context manager). ``start()`` is idempotent; ``stop()`` too."""

    display_name = "the LRS launcher"
    log_label = "LRS"
    log_name = "lrs.log"
    startup_error = LRSStartupError

    def __init__(
        self,
        *,
        root: Path | None = None,
        username: str = "adoptloop",
        password: str = "test-secret",  # noqa: S107 -- a throwaway local test LRS
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        check_credentials(username, password)
        super().__init__(startup_timeout=startup_timeout)
        self.root = root if root is not None else default_lrs_root()
        self.username = username
        self.password = password
        self.port = port
        self._control_token = secrets.token_urlsafe(24)
        self._info: LRSInfo | None = None
        self._base_url = ""

    # ------------------------------------------------------------------ lifecycle
    @property
    def info(self) -> LRSInfo:
        """Connection details of the running LRS (raises if not started)."""
        if self._info is None:
            raise LRSError("the local LRS is not running; call start() first")
        return self._info

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

        data_dir = self._make_workspace("adoptloop-lrs-") / "data"
        data_dir.mkdir()
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
            self._spawn(
                [node, str(self.root / "launcher.js")],
                cwd=data_dir,
                env=env,
                stdin=subprocess.PIPE,
            )
        except OSError as exc:
            self.stop()
            raise LRSStartupError(f"could not run node: {exc}") from exc

        try:
            actual_port = self._wait_until(self._ready_port)
            self._base_url = f"http://{LOOPBACK}:{actual_port}"
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

    def _ready_port(self) -> int | None:
        match = _READY_RE.search(self.read_log() or "")
        return int(match.group(1)) if match else None

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
        self._info = None
        self._base_url = ""
        super().stop()

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
        return xapi_client(self.info, **kwargs)

    def missing(self, statement_ids: Iterable[str]) -> list[str]:
        """The ids the LRS cannot return, asked one by one (`statementId`, then
        `voidedStatementId` for a voided one): exact, unlike a count from a paged listing,
        which this LRS can make short under load."""
        gone: list[str] = []
        with self.client() as http:
            for statement_id in statement_ids:
                found = http.get("statements", params={"statementId": statement_id})
                if found.status_code == httpx.codes.NOT_FOUND:
                    found = http.get("statements", params={"voidedStatementId": statement_id})
                if found.status_code != httpx.codes.OK:
                    gone.append(statement_id)
        return gone

    def holds(self, statement_ids: Sequence[str]) -> bool:
        """Every one of these statements is in the LRS (asked by id), and a listing shows no
        more than these (a short listing is the LRS's paging, an extra one a duplicate)."""
        return not self.missing(statement_ids) and self.statements_count() <= len(statement_ids)

    def statements_count(self) -> int:
        """Count the statements a GET /statements query returns, following every ``more`` link.

        As xAPI prescribes, voided statements are not returned by such a query (so they are not
        counted); voiding statements are.

        The pages are as large as this LRS allows (it caps no ``limit``), so a count of the
        statements our tests and benches store is one page: this LRS's ``more`` cursor compares
        statement ids while its pages are ordered by stored time, so statements stored at once
        by two clients (two ``serve`` nodes) could fall between two pages and go uncounted
        (600 stored, 500 counted). It accepts no ``skip`` to page by instead.
        """
        with self.client() as http:
            pages = statement_pages(
                http, f"{self.info.endpoint}statements?limit={COUNT_PAGE}", server="the LRS"
            )
            return sum(len(page.get("statements", [])) for page in pages)
