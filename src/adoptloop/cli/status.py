"""`adoptloop status | runs | quarantine list/retry | statements export`: what the store says."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from adoptloop.cli.common import ConfigOption, DryRunOption, JsonOption, handled, load, out

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(runs)
    quarantine_app = typer.Typer(
        help="Records that could not be used, with the reason.", no_args_is_help=True
    )
    quarantine_app.command("list")(quarantine_list)
    quarantine_app.command("retry")(quarantine_retry)
    app.add_typer(quarantine_app, name="quarantine")
    statements_app = typer.Typer(help="The statements adoptloop made.", no_args_is_help=True)
    statements_app.command("export")(statements_export)
    app.add_typer(statements_app, name="statements")


def status(
    config: ConfigOption,
    as_json: Annotated[
        bool, typer.Option("--json", help="The health report as JSON (as `serve` writes it).")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 4 when the report has problems (for monitors).")
    ] = False,
) -> None:
    """Last runs, cursors, source freshness, outbox backlog, quarantine by reason, health."""
    from adoptloop.scheduler import health
    from adoptloop.store import outbox
    from adoptloop.store import quarantine as quarantined_records
    from adoptloop.store.cursors import all_cursors
    from adoptloop.store.db import open_store
    from adoptloop.store.runs import recent_runs

    with handled():
        settings, _ = load(config)
        engine = open_store(settings.store.url)
        report = health.build_report(engine, settings)
        if as_json:
            sys.stdout.write(health.as_json(report))
            if check and not report["ok"]:
                raise typer.Exit(4)
            return
        with engine.connect() as conn:
            last_runs = recent_runs(conn)
            cursors = all_cursors(conn)
            box = outbox.counts(conn)
            quarantined = quarantined_records.counts(conn)
        table = Table(title="last runs", title_justify="left")
        for column in ("run", "started", "finished", "status"):
            table.add_column(column)
        for r in last_runs:
            table.add_row(r["run_id"][:8], r["started_at"], r["finished_at"] or "", r["status"])
        out.print(table)
        table = Table(title="cursors", title_justify="left")
        for column in ("source", "stream", "position", "updated"):
            table.add_column(column)
        for c in cursors:
            table.add_row(c["source"], c["stream"], c["value"][:24], c["updated_at"])
        out.print(table)
        target = settings.delivery.target
        pending_label = (
            "kept as archive (target: store)" if target == "store" else "pending delivery"
        )
        out.print(
            f"outbox: {box.get('pending', 0)} {pending_label}, {box.get('delivered', 0)} delivered, "
            f"{box.get('rejected', 0)} rejected"
        )
        total = sum(n for *_, n in quarantined)
        out.print(f"quarantine: {total} open" + (":" if total else ""))
        for source, stream, n in quarantined:
            out.print(f"  {source}.{stream}: {n}")
        print_health(out, report)
    if check and not report["ok"]:
        raise typer.Exit(4)


def print_health(console: Console, report: dict[str, Any]) -> None:
    """The operational part of `adoptloop status`."""
    table = Table(title="sources", title_justify="left")
    columns = ("source", "read", "used", "quarantined", "held back", "last complete run")
    for column in (*columns, "age (h)", "fresh"):
        table.add_column(column, justify="right" if column in columns[1:5] else "left")
    for name, info in report["sources"].items():
        figures = [_count(info.get(k)) for k in ("read", "used", "quarantined", "held_back")]
        fresh = "stale" if info["stale"] else "ok"
        if info.get("stopped"):
            fresh = "stopped early"
        table.add_row(
            name,
            *figures,
            info["last_success"] or "never",
            "" if info["age_hours"] is None else str(info["age_hours"]),
            fresh,
        )
    console.print(table)
    for name, info in report["sources"].items():
        if info.get("api"):
            console.print(
                f"{name} API use, run {info['api']['run_id'][:8]}: {_api_text(info['api'])}"
            )
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


def _api_text(usage: dict[str, Any]) -> str:
    """A run's API figures (`pull` counts' "(api)") in one line."""
    return (
        f"{usage.get('calls', 0):,} calls ({usage.get('logins', 0)} logins), "
        f"{usage.get('delayed_calls', 0)} delayed by the vendor ({usage.get('delayed_ms', 0)} ms), "
        f"paused {usage.get('paused_seconds', 0)} s for its rate limit"
    )


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def runs(
    config: ConfigOption,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Run history: job, schedule, status, attempts, duration and seconds per stage."""
    from adoptloop.store.db import open_store
    from adoptloop.store.runs import recent_runs

    with handled():
        settings, _ = load(config)
        engine = open_store(settings.store.url)
        with engine.connect() as conn:
            history = recent_runs(conn, limit=limit)
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
        out.print(table)


def quarantine_list(
    config: ConfigOption,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Open quarantine entries: source, stream, record, where it was, and why."""
    from adoptloop.store import quarantine as quarantined_records
    from adoptloop.store.db import open_store

    with handled():
        settings, _ = load(config)
        engine = open_store(settings.store.url)
        with engine.connect() as conn:
            entries = quarantined_records.entries(conn, limit=limit)
        if as_json:
            for e in entries:
                keep = ("source", "stream", "record_key", "location", "reason", "first_seen_run")
                sys.stdout.write(orjson.dumps({k: e[k] for k in keep}).decode() + "\n")
            return
        table = Table(title=f"quarantine ({len(entries)} shown)", title_justify="left")
        for column in ("source", "stream", "record", "where", "reason"):
            table.add_column(column, overflow="fold")
        for e in entries:
            table.add_row(e["source"], e["stream"], e["record_key"], e["location"], e["reason"])
        out.print(table)


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
    from adoptloop.store import quarantine as quarantined_records
    from adoptloop.store.db import open_store

    with handled():
        settings, _ = load(config)
        engine = open_store(settings.store.url)
        with engine.begin() as conn:
            plan = quarantined_records.retry_plan(conn, source=source, stream=stream)
            if not dry_run:
                quarantined_records.apply_retry(conn, plan)
        verb = "would" if dry_run else "will"
        out.print(
            f"{len(plan.statements)} rejected statements {verb} be sent again; "
            f"{len(plan.records)} records {verb} be translated again; "
            f"{len(plan.streams)} streams {verb} be read again in full"
            + (": " + ", ".join(f"{s}.{t}" for s, t in plan.streams) if plan.streams else "")
        )
        if not dry_run and plan:
            out.print("the next run (or `serve`'s next scheduled run) retries them")


def statements_export(
    config: ConfigOption,
    output: Annotated[
        Path, typer.Option("--out", help="JSON Lines file to write.", show_default=False)
    ],
) -> None:
    """Write every statement made so far, one per line, in the order they were made."""
    from adoptloop.store import outbox
    from adoptloop.store.db import open_store

    with handled():
        settings, _ = load(config)
        engine = open_store(settings.store.url)
        count = 0
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_suffix(output.suffix + ".tmp")
        with engine.connect() as conn, tmp.open("wb") as fh:
            for payload in outbox.iter_payloads(conn):
                fh.write(payload + b"\n")
                count += 1
        tmp.replace(output)
        out.print(f"wrote {count} statements to {output}")
