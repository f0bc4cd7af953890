"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests, or a server named by the environment.

    ADOPTLOOP_TEST_POSTGRES_URL=postgresql+psycopg://user:pw@host:5432/postgres
        use that server (the user must be allowed to CREATE DATABASE); nothing is started.
    ADOPTLOOP_TEST_POSTGRES_BINDIR=/usr/lib/postgresql/15/bin
        where initdb and pg_ctl are (default: the newest /usr/lib/postgresql/*/bin, then PATH).

Without a URL a cluster is created with initdb in a temporary directory and started with
pg_ctl, listening on 127.0.0.1 only (no Unix socket), password authentication (scram), and
durability switched off for speed. It never touches a system service. As root, initdb and
pg_ctl run as the `postgres` user (Debian's package creates it), since PostgreSQL refuses to
run as root.

Use::

    with start_postgres() as server:
        url = server.create_database("t1")   # postgresql+psycopg://...
        ...
        server.drop_database("t1")
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_URL = "ADOPTLOOP_TEST_POSTGRES_URL"
ENV_BINDIR = "ADOPTLOOP_TEST_POSTGRES_BINDIR"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresServer(Protocol):
    def create_database(self, name: str) -> str:
        """Create an empty database; returns its SQLAlchemy URL (with password)."""

    def drop_database(self, name: str) -> None:
        """Drop it, disconnecting whoever is still connected."""


def find_bindir() -> Path | None:
    configured = os.environ.get(ENV_BINDIR)
    candidates = [Path(configured)] if configured else []
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += debian
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def postgres_unavailable() -> str | None:
    """None when tests can have a PostgreSQL server, else why not (human text)."""
    if os.environ.get(ENV_URL):
        return None
    if find_bindir() is None:
        return (
            f"no initdb/pg_ctl found (install Debian's `postgresql` package, set {ENV_BINDIR}, "
            f"or name a server in {ENV_URL})"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs the `postgres` user to run initdb (or set the URL)"
    return None


class _Admin:
    """CREATE/DROP DATABASE through an admin URL."""

    def __init__(self, admin: URL) -> None:
        self.admin = admin

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        a = self.admin
        return psycopg.connect(
            host=a.host,
            port=a.port,
            user=a.username,
            password=a.password,
            dbname=a.database or "postgres",
            autocommit=True,
        )

    def create_database(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a simple database name: {name!r}")
        with self._connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = self.admin.set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class ExternalPostgres(_Admin):
    """A server named by ADOPTLOOP_TEST_POSTGRES_URL."""


class LocalCluster(_Admin):
    """initdb + pg_ctl in a temporary directory (or in `root`, which must not exist yet), on
    127.0.0.1:<free port>. `stop()` removes the directory."""

    USER = "adoptloop"

    def __init__(self, bindir: Path, root: Path | None = None) -> None:
        self.bindir = bindir
        self.password = secrets.token_urlsafe(18)
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="adoptloop-pg-"))
        else:
            root.mkdir(mode=0o700)
            self.root = root
        self.data = self.root / "data"
        self.port = _free_port()
        super().__init__(
            URL.create(
                "postgresql+psycopg",
                username=self.USER,
                password=self.password,
                host="127.0.0.1",
                port=self.port,
                database="postgres",
            )
        )
        self._as_postgres = os.geteuid() == 0

    def start(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.USER,
            "--pwfile",
            str(pwfile),
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                "-c unix_socket_directories=''",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        path = self.root / "log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{self.log_tail()}"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def start_postgres() -> Iterator[PostgresServer]:
    """The server named by ADOPTLOOP_TEST_POSTGRES_URL, or a throwaway local cluster."""
    named = os.environ.get(ENV_URL)
    if named:
        yield ExternalPostgres(make_url(named))
        return
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(postgres_unavailable() or "PostgreSQL is unavailable")
    cluster = LocalCluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
