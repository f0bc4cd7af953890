"""Service commands: `serve`, `runs`, `quarantine retry`, `retention purge`.

`register(app)` adds them to the `adoptloop` command (cli.py). The shared helpers of cli.py
(settings loading with log redaction, error -> exit status) are imported when a command runs,
as cli.py imports this module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, select, update

from adoptloop.store import bookkeeping, outbox, schema
from adoptloop.store.db import open_store

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The adoptloop YAML file.", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say what would change; change nothing.")
]


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(runs)
    retention = typer.Typer(help="Retention of each class of data.", no_args_is_help=True)
    retention.command("purge")(retention_purge)
    app.add_typer(retention, name="retention")
    for group in app.registered_groups:
        if group.name == "quarantine" and group.typer_instance is not None:
            group.typer_instance.command("retry")(quarantine_retry)


def serve(config: ConfigOption) -> None:
    """Run the pipeline on its schedule (schedule: in the YAML) until SIGTERM.

    Several `serve` processes may share one store: one schedules, the others stand by and
    take over; all of them deliver. SIGTERM finishes the current batch, records the run as
    interrupted and exits 0; the next start resumes it.
    """
    from adoptloop import cli as main  # noqa: PLC0415 - cli.py imports this module
    from adoptloop.pipeline.run import Environment  # noqa: PLC0415
    from adoptloop.scheduler.service import Service  # noqa: PLC0415 - APScheduler, only here

    with main._handled():
        settings, registry = main._settings(config)
        service = Service(Environment.open(settings, registry))
        code = service.run()
    raise typer.Exit(code)


def runs(
    config: ConfigOption,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Run history: job, schedule, status, attempts, duration and seconds per stage."""
    from adoptloop import cli as main  # noqa: PLC0415 - cli.py imports this module

    with main._handled():
        settings, _ = main._settings(config)
        engine = open_store(settings.store.url)
        with engine.connect() as conn:
            history = bookkeeping.recent_runs(conn, limit=limit)
        if as_json:
            for run in history:
                sys.stdout.write(
                    orjson.dumps(
                        {str(k): v for k, v in run.items()}, option=orjson.OPT_SORT_KEYS
                    ).decode()
                    + "\n"
                )
            return
        table = Table(title=f"runs ({len(history)} shown)", title_justify="left")
        for column in ("run", "job", "scheduled for", "started", "status", "tries", "seconds"):
            table.add_column(column)
        for run in history:
            stages = {
                k: v["seconds"]
                for k, v in run["counts"].items()
                if isinstance(v, dict) and "seconds" in v
            }
            table.add_row(
                run["run_id"][:8],
                run["pipeline"],
                run["scheduled_for"],
                run["started_at"],
                run["status"],
                str(run.get("attempts") or 1),
                ", ".join(f"{k} {v}" for k, v in stages.items()),
            )
        main.out.print(table)


def quarantine_retry(
    config: ConfigOption,
    source: Annotated[str | None, typer.Option(help="Only this source (lrs: delivery).")] = None,
    stream: Annotated[str | None, typer.Option(help="Only this stream.")] = None,
    dry_run: DryRunOption = False,
) -> None:
    """Retry quarantined records at the next run, once their cause is fixed.

    Statements the LRS rejected go back to the outbox; statements that were invalid are made
    again from their records; records a pull rejected are read again: the stream's cursor is
    cleared, so the next run re-reads it in full (unchanged records are not written again).
    Entries leave quarantine when the retry succeeds.
    """
    from adoptloop import cli as main  # noqa: PLC0415 - cli.py imports this module

    with main._handled():
        settings, _ = main._settings(config)
        engine = open_store(settings.store.url)
        with engine.begin() as conn:
            plan = retry_plan(conn, source=source, stream=stream)
            if not dry_run:
                apply_retry(conn, plan)
        verb = "would" if dry_run else "will"
        main.out.print(
            f"{len(plan['statements'])} rejected statements {verb} be sent again; "
            f"{len(plan['records'])} records {verb} be translated again; "
            f"{len(plan['streams'])} streams {verb} be read again in full"
            + (": " + ", ".join(f"{s}.{t}" for s, t in plan["streams"]) if plan["streams"] else "")
        )
        if not dry_run and any(plan.values()):
            main.out.print("the next run (or `serve`'s next scheduled run) retries them")


def retry_plan(conn: Connection, *, source: str | None, stream: str | None) -> dict[str, Any]:
    """What `quarantine retry` changes, from the open quarantine entries."""
    q = schema.quarantine
    query = select(q.c.source, q.c.stream, q.c.record_key, q.c.location).where(
        q.c.resolved.is_(False)
    )
    if source is not None:
        query = query.where(q.c.source == source)
    if stream is not None:
        query = query.where(q.c.stream == stream)
    statements: list[str] = []
    records: list[tuple[str, str, str]] = []
    streams: set[tuple[str, str]] = set()
    for row in conn.execute(query):
        if (row.source, row.stream) == ("lrs", "delivery"):
            statements.append(row.record_key)
        elif row.stream == "statements":
            table, _, record_id = row.location.partition(" ")
            if (
                table in schema.metadata.tables
                and "translated_digest" in schema.metadata.tables[table].c
            ):
                records.append((table, row.source, record_id))
        else:
            streams.add((row.source, row.stream))
    return {"statements": statements, "records": records, "streams": sorted(streams)}


def apply_retry(conn: Connection, plan: dict[str, Any]) -> None:
    box = schema.outbox
    if plan["statements"]:
        conn.execute(
            update(box)
            .where(box.c.statement_id.in_(plan["statements"]) & (box.c.state == outbox.REJECTED))
            .values(state=outbox.PENDING, error=None, lease_until=None)
        )
    for table_name, source, record_id in plan["records"]:
        table = schema.metadata.tables[table_name]
        conn.execute(
            update(table)
            .where((table.c.source == source) & (table.c.record_id == record_id))
            .values(translated_digest=None)
        )
    cursors = schema.cursors
    for source, stream in plan["streams"]:
        conn.execute(
            cursors.delete().where((cursors.c.source == source) & (cursors.c.stream == stream))
        )


def retention_purge(config: ConfigOption, dry_run: DryRunOption = False) -> None:
    """Delete what is older than `retention:` allows, now (serve does it on retention.cron)."""
    from adoptloop import cli as main  # noqa: PLC0415 - cli.py imports this module
    from adoptloop.scheduler.retention import purge, run_purge  # noqa: PLC0415

    with main._handled():
        settings, _ = main._settings(config)
        engine = open_store(settings.store.url)
        if dry_run:
            counts = purge(engine, settings, dry_run=True)
            main.out.print("would delete: " + _fmt(counts))
            return
        result = run_purge(engine, settings)
        main.out.print("deleted: " + _fmt(result.get("purge", {})))


def _fmt(counts: dict[str, Any]) -> str:
    shown = {k: v for k, v in counts.items() if k != "seconds"}
    return ", ".join(f"{k} {v}" for k, v in shown.items()) or "nothing (no retention configured)"


def print_health(console: Console, report: dict[str, Any]) -> None:
    """The operational part of `adoptloop status`."""
    table = Table(title="sources", title_justify="left")
    for column in ("source", "last successful pull", "age (h)", "fresh"):
        table.add_column(column)
    for name, info in report["sources"].items():
        table.add_row(
            name,
            info["last_success"] or "never",
            "" if info["age_hours"] is None else str(info["age_hours"]),
            "stale" if info["stale"] else "ok",
        )
    console.print(table)
    box = report["outbox"]
    if box["target"] == "lrs":
        console.print(
            f"outbox backlog: {box['pending']} pending"
            + (f", oldest since {box['oldest_pending']}" if box["oldest_pending"] else "")
        )
    if report["quarantine"]["by_reason"]:
        table = Table(title="quarantine by reason", title_justify="left")
        for column in ("source", "stream", "reason", "open"):
            table.add_column(column, overflow="fold")
        for entry in report["quarantine"]["by_reason"]:
            table.add_row(entry["source"], entry["stream"], entry["reason"], str(entry["count"]))
        console.print(table)
    if report["ok"]:
        console.print("health: ok")
    else:
        console.print("health: PROBLEMS", markup=False)
        for problem in report["problems"]:
            console.print(f"  - {problem}", markup=False, highlight=False)
