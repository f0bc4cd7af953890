"""`adoptloop run --dry-run`: everything a run does except commit to the store and deliver.

The run happens on a scratch copy of the store (SQLite's backup API), so cursors, content
hashes and the outbox behave exactly as the real run's would; it delivers nothing, writes no
LMS transcript and no report where people look, and the copy is thrown away. A PostgreSQL
store cannot be copied from here: the dry run then starts from an empty scratch store, as a
first run would, and says so. Sources are read for real (an API source spends API calls).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from adoptloop.connectors.registry import Registry
from adoptloop.pipeline.run import Environment, RunResult, run_pipeline
from adoptloop.settings.model import DeliverySettings, Settings
from adoptloop.store import outbox, quarantine
from adoptloop.store.db import copy_sqlite, sqlite_path

SAMPLES = 3


@dataclass
class DryRunResult:
    run: RunResult
    from_empty_store: bool  # the real store could not be copied (PostgreSQL, or none yet)
    quarantined: list[tuple[str, str, str, int]] = field(default_factory=list)
    samples: list[bytes] = field(default_factory=list)  # statements the run would queue


def scratch_settings(settings: Settings, scratch: Path) -> Settings:
    """The same configuration on a scratch store, delivering and writing back nothing."""
    return settings.model_copy(
        update={
            "store": settings.store.model_copy(
                update={"url": f"sqlite:///{scratch / 'store.db'}", "password": None}
            ),
            "delivery": DeliverySettings(target="store"),
            "adoption": settings.adoption.model_copy(
                update={"write_back": [], "output_dir": scratch / "out"}
            ),
        }
    )


def dry_run(
    settings: Settings,
    registry: Registry,
    *,
    as_of: date | None = None,
    allow_shrink: bool = False,
) -> DryRunResult:
    with tempfile.TemporaryDirectory(prefix="adoptloop-dry-run-") as folder:
        scratch = Path(folder)
        real = sqlite_path(settings.store.url)
        copied = real is not None and real.is_file()
        if copied and real is not None:
            copy_sqlite(real, scratch / "store.db")
        env = Environment.open(scratch_settings(settings, scratch), registry)
        try:
            result = run_pipeline(env, as_of=as_of, pipeline="dry-run", allow_shrink=allow_shrink)
            with env.engine.connect() as conn:
                reasons = quarantine.reasons_seen_in(conn, result.run_id)
                samples = outbox.created_in(conn, result.run_id, limit=SAMPLES)
        finally:
            env.engine.dispose()
    return DryRunResult(result, not copied, reasons, samples)
