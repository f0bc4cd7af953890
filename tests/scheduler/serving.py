"""Running `adoptloop serve` as a real process against a demo config, and watching its store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from adoptloop.store import schema
from tests.harness.lrs_server import LocalLRS
from tests.store.stores import point_demo_at
from tests.support import copy_demo

ADOPTLOOP = Path(sys.executable).parent / "adoptloop"
DEMO_TARGET = (
    "  target: store                          # keep statements in the store; see README for an LRS"
)

T = TypeVar("T")


def demo_service(
    root: Path,
    store_url: str,
    *,
    schedule: str,
    lrs: LocalLRS | None = None,
    batch_size: int = 400,
) -> tuple[Path, dict[str, str]]:
    """A demo config at `root` using `store_url`, an optional LRS and a `schedule:` section."""
    config = copy_demo(root)
    env = point_demo_at(config, store_url)
    text = config.read_text()
    if lrs is not None:
        assert DEMO_TARGET in text
        text = text.replace(
            DEMO_TARGET,
            "  target: lrs\n"
            "  lrs:\n"
            f"    endpoint: {lrs.info.endpoint}\n"
            "    username: ${LRS_USER}\n"
            "    password: ${LRS_PASS}\n"
            f"    batch_size: {batch_size}\n"
            "    concurrency: 1\n"
            "    max_retry_seconds: 60\n",
        )
        env.update(LRS_USER=lrs.info.username, LRS_PASS=lrs.info.password)
    config.write_text(text + "\nschedule:\n" + schedule)
    return config, env


@dataclass
class Serve:
    """One `adoptloop serve` process; its stderr (JSON logs) goes to `log`."""

    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, config: Path, env: dict[str, str], log: Path) -> Serve:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(ADOPTLOOP), "serve", "--config", str(config)],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(proc, log)

    def terminate(self, timeout: float = 120) -> int:
        """SIGTERM, then wait for the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def holder(self) -> str:
        return str(next(e["node"] for e in self.events() if e.get("event") == "serve starting"))

    def ensure_stopped(self) -> None:
        if self.proc.poll() is None:
            self.kill()


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 120.0) -> T:
    """Poll `check` until it returns something truthy (bounded: fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.05)


class StoreWatch:
    """Read-only queries on the store under test (empty until `serve` created it)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def _all(self, query: Any) -> list[Any]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query).all())
        except DBAPIError:  # no tables yet
            return []

    def runs(self, pipeline: str = "nightly") -> list[dict[str, Any]]:
        t = schema.runs
        rows = self._all(select(t).where(t.c.pipeline == pipeline).order_by(t.c.started_at))
        return [dict(r._mapping) for r in rows]

    def outbox(self) -> dict[str, int]:
        t = schema.outbox
        rows = self._all(select(t.c.state, func.count()).group_by(t.c.state))
        return {state: int(n) for state, n in rows}

    def statement_ids(self) -> list[str]:
        t = schema.outbox
        return [str(sid) for (sid,) in self._all(select(t.c.statement_id).order_by(t.c.seq))]

    def delivered_by(self) -> dict[str, str]:
        t = schema.outbox
        rows = self._all(select(t.c.statement_id, t.c.claimed_by).where(t.c.state == "delivered"))
        return {sid: str(who) for sid, who in rows}

    def claimed_pending(self) -> dict[str, str]:
        t = schema.outbox
        rows = self._all(
            select(t.c.statement_id, t.c.claimed_by).where(
                (t.c.state == "pending") & t.c.lease_until.is_not(None)
            )
        )
        return {sid: str(who) for sid, who in rows}
