"""The demo pipeline, end to end, on each store: the same statements, and idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from adoptloop.store import schema
from tests.store.stores import point_demo_at
from tests.support import copy_demo


def _invoke(config: Path, env: dict[str, str], *args: str) -> str:
    """The real command in its own process (it leaves no pooled connection behind here)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "adoptloop"), *args, "--config", str(config)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_demo_gives_the_same_statements_on_this_store_as_on_sqlite(
    store_url: str, tmp_path: Path
) -> None:
    reference = copy_demo(tmp_path / "reference")
    _invoke(reference, {}, "run")
    _invoke(reference, {}, "statements", "export", "--out", str(tmp_path / "reference.jsonl"))
    config = copy_demo(tmp_path / "here")
    env = point_demo_at(config, store_url)

    _invoke(config, env, "run")
    _invoke(config, env, "run")  # idempotent: adds nothing
    _invoke(config, env, "statements", "export", "--out", str(tmp_path / "here.jsonl"))

    here = (tmp_path / "here.jsonl").read_bytes().splitlines()
    assert sorted(here) == sorted((tmp_path / "reference.jsonl").read_bytes().splitlines())
    assert len(here) > 2000
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(select(schema.runs.c.status, schema.runs.c.counts)).all()
            open_quarantine = conn.execute(
                select(func.count()).select_from(schema.quarantine)
            ).scalar_one()
    finally:
        engine.dispose()
    assert [status for status, _ in runs] == ["succeeded", "succeeded"]
    assert open_quarantine == 6
    assert all("seconds" in json.loads(counts)["translate"] for _, counts in runs)
    adoption = (config.parent / "state" / "out" / "adoption.csv").read_text()
    assert adoption == (reference.parent / "state" / "out" / "adoption.csv").read_text()
