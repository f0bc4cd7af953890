"""`adoptloop serve | retention purge`: the scheduled service and its housekeeping."""

from __future__ import annotations

from typing import Any

import typer

from adoptloop.cli.common import ConfigOption, DryRunOption, handled, load, out


def register(app: typer.Typer) -> None:
    app.command()(serve)
    retention = typer.Typer(help="Retention of each class of data.", no_args_is_help=True)
    retention.command("purge")(retention_purge)
    app.add_typer(retention, name="retention")


def serve(config: ConfigOption) -> None:
    """Run the pipeline on its schedule (schedule: in the YAML) until SIGTERM.

    Several `serve` processes may share one store: one schedules, the others stand by and
    take over; all of them deliver. SIGTERM finishes the current batch, records the run as
    interrupted and exits 0; the next start resumes it.
    """
    from adoptloop.pipeline.run import Environment
    from adoptloop.scheduler.service import Service

    with handled():
        settings, registry = load(config)
        service = Service(Environment.open(settings, registry))
        code = service.run()
    raise typer.Exit(code)


def retention_purge(config: ConfigOption, dry_run: DryRunOption = False) -> None:
    """Delete what is older than `retention:` allows, now (serve does it on retention.cron)."""
    from adoptloop.scheduler.retention import purge, run_purge
    from adoptloop.store.db import open_store

    with handled():
        settings, _ = load(config)
        engine = open_store(settings.store.url)
        if dry_run:
            counts = purge(engine, settings, dry_run=True)
            out.print("would delete: " + _fmt(counts))
            return
        result = run_purge(engine, settings)
        out.print("deleted: " + _fmt(result.get("purge", {})))


def _fmt(counts: dict[str, Any]) -> str:
    shown = {k: v for k, v in counts.items() if k != "seconds"}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "nothing (no retention configured)"
