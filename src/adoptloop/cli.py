"""The `adoptloop` command.

Exit codes: 0 success; 1 the run failed (see the message and `adoptloop status`);
2 configuration or store-version error (nothing was written); 3 a source or the LRS refused
to continue (credentials, a vendor error); 4 `status --check` found problems; 75 the store is
busy or unreachable (retry later); 130 / 143 interrupted by Ctrl-C / SIGTERM at a checkpoint.
The table with what to do for each is in docs/operations.md.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from adoptloop import __version__
from adoptloop import logging as adoptloop_logging
from adoptloop.adoption.compute import scratch
from adoptloop.adoption.metrics import COLUMNS, MetricsRow, adoption_metrics
from adoptloop.adoption.report.assemble import build_report_data, write_report
from adoptloop.connectors.registry import Registry
from adoptloop.errors import AdoptloopError, ConfigError
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.pipeline.run import Environment, RunResult, run_erasure, run_pipeline
from adoptloop.scheduler import health
from adoptloop.scheduler.cli import print_health, register
from adoptloop.settings import Settings, load_settings, settings_model
from adoptloop.store import bookkeeping, outbox
from adoptloop.store.db import open_store
from adoptloop.store.metrics import RowSource
from adoptloop.xapi import commands as xapi_commands

app = typer.Typer(
    name="adoptloop",
    help="Is what we trained actually being applied in the field?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Configuration helpers.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Records that could not be used, with the reason.", no_args_is_help=True
)
statements_app = typer.Typer(help="The statements adoptloop made.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(statements_app, name="statements")
app.add_typer(xapi_commands.app, name="xapi")

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The adoptloop YAML file.", show_default=False)
]

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one problem per line, never wrapped at 80


def _fail(message: str, code: int) -> NoReturn:
    err.print(message, markup=False, highlight=False)
    raise typer.Exit(code)


@contextmanager
def _handled() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        _fail("\n".join(exc.problems), exc.exit_code)
    except AdoptloopError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; the next run resumes from the last checkpoint", 130)


def _settings(path: Path) -> tuple[Settings, Registry]:
    registry = Registry.from_entry_points()
    settings = load_settings(path, registry)
    adoptloop_logging.configure(secrets=_secret_values(settings))
    return settings, registry


def _secret_values(settings: Settings) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if hasattr(value, "get_secret_value"):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(settings)
    return found


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path(),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write a commented starter config (adoptloop.yaml) and capability map."""
    templates = resources.files("adoptloop") / "templates"
    directory.mkdir(parents=True, exist_ok=True)
    targets = {
        "adoptloop.yaml": directory / "adoptloop.yaml",
        "capabilities.yaml": directory / "capabilities.yaml",
    }
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not force:
        _fail(f"not overwriting {', '.join(existing)} (use --force)", 2)
    for name, target in targets.items():
        target.write_text((templates / name).read_text(encoding="utf-8"), encoding="utf-8")
        out.print(f"wrote {target}")
    out.print(
        "next: set ADOPTLOOP_ACTOR_KEY, point the sources at your exports, then "
        f"`adoptloop validate --config {targets['adoptloop.yaml']}`"
    )


@app.command()
def validate(config: ConfigOption) -> None:
    """Check a config file (and the files it references) without running anything."""
    with _handled():
        settings, _ = _settings(config)
        capabilities = CapabilityMap.load(settings.capability_map)
        out.print(
            f"{config}: ok ({len(settings.sources)} sources, "
            f"{len(capabilities.capabilities)} capabilities, delivery to {settings.delivery.target})",
            soft_wrap=True,
        )


@config_app.command("schema")
def config_schema(
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of the config file (for editor completion and validation)."""
    text = render_schema(Registry.from_entry_points())
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


def render_schema(registry: Registry) -> str:
    schema = settings_model(registry).model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "adoptloop configuration"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


@app.command()
def run(
    config: ConfigOption,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge adoption as of this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Pull, translate, deliver and compute adoption, once."""
    with _handled():
        settings, registry = _settings(config)
        as_of_date = _parse_date(as_of, "--as-of")
        env = Environment.open(settings, registry)
        if out.is_terminal:
            with out.status("starting…") as status:

                def progress(what: str, n: int) -> None:
                    status.update(f"pulling {what}: {n:,} records")

                result = run_pipeline(env, progress=progress, as_of=as_of_date)
        else:
            result = run_pipeline(env, as_of=as_of_date)
        _print_summary(result)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def _print_summary(result: RunResult) -> None:
    table = Table(title=f"run {result.run_id} — {result.status}", title_justify="left")
    for column in ("stage", "what", "counts"):
        table.add_column(column)
    for source, streams in result.counts.get("pull", {}).items():
        if source == "seconds":
            continue
        for stream, counts in streams.items():
            table.add_row("pull", f"{source}.{stream}", _fmt_counts(counts))
    for name, counts in result.counts.get("translate", {}).items():
        if name != "seconds":
            table.add_row("translate", name, _fmt_counts(counts))
    deliver = {k: v for k, v in result.counts.get("deliver", {}).items() if k != "seconds"}
    table.add_row("deliver", str(deliver.get("target", "")), _fmt_counts(deliver))
    out.print(table)
    _print_adoption(result.adoption, result.as_of)
    if result.adoption_csv:
        out.print(f"adoption CSV: {result.adoption_csv}")
    if result.report:
        out.print(f"adoption report: {result.report}")


def _fmt_counts(counts: Any) -> str:
    if not isinstance(counts, dict):
        return str(counts)
    return ", ".join(
        f"{k} {v}" for k, v in counts.items() if k not in ("target",) and v not in (0, False)
    )


def _print_adoption(rows: Sequence[MetricsRow], as_of: date | None) -> None:
    table = Table(
        title=f"adoption as of {as_of} (cohort = trained reps whose window has closed)",
        title_justify="left",
    )
    shown = (
        "group",
        "capability",
        "cohort",
        "observed",
        "adopted",
        "observation_coverage",
        "adoption_observed",
        "adoption_cohort",
        "median_days_to_proficiency",
        "sustained",
        "regressed",
        "tier",
    )
    labels = {
        "observation_coverage": "coverage",
        "adoption_observed": "adopted/observed",
        "adoption_cohort": "adopted/cohort",
        "median_days_to_proficiency": "median days",
    }
    for column in shown:
        table.add_column(
            labels.get(column, column),
            justify="left" if column in ("group", "capability", "tier") else "right",
        )
    for row in rows:
        record = row.record()
        flag = " *" if record["flagged"] else ""
        table.add_row(
            *[_cell(record[c], c) + (flag if c == "adoption_observed" else "") for c in shown]
        )
    out.print(table)
    out.print(
        "tiers: suppressed = cohort under 5; counts-only = 5-9; directional = 10-29 "
        "(percentages with a Wilson 95% interval); comparable = 30+. * = the group's interval "
        "excludes the overall value."
    )


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if column.startswith(("adoption", "observation")) and isinstance(value, float):
        return f"{value:.1f}%"
    return str(value)


@app.command()
def adoption(
    config: ConfigOption,
    by: Annotated[
        str, typer.Option(help="Group by region, team, manager, module or capability.")
    ] = "region",
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge every window as of this date.")
    ] = None,
) -> None:
    """Adoption by group and capability, from the store (reproducible with --as-of)."""
    with _handled():
        if by not in ("region", "team", "manager", "module", "capability"):
            raise ConfigError(f"--by: {by!r} is not region, team, manager, module or capability")
        if fmt not in ("table", "csv", "json"):
            raise ConfigError(f"--format: {fmt!r} is not table, csv or json")
        settings, registry = _settings(config)
        env = Environment.open(settings, registry)
        day = env.as_of(_parse_date(as_of, "--as-of"))
        with (
            scratch(env.engine, env.capabilities, day) as computation,
            env.engine.connect() as conn,
        ):
            rows = adoption_metrics(
                conn,
                RowSource.scratch(computation),
                env.capabilities,
                day,
                by,  # type: ignore[arg-type]
            )
        if fmt == "table":
            _print_adoption(rows, day)
        elif fmt == "json":
            sys.stdout.write(
                orjson.dumps(
                    {"as_of": day.isoformat(), "by": by, "rows": [r.record() for r in rows]},
                    option=orjson.OPT_INDENT_2,
                ).decode()
                + "\n"
            )
        else:
            writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                record = row.record()
                writer.writerow({k: "" if record[k] is None else record[k] for k in COLUMNS})


@app.command()
def report(
    config: ConfigOption,
    output: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "adoption.html"
    ),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge every window as of this date.")
    ] = None,
) -> None:
    """Write the self-contained HTML adoption report (opens offline; no CDN)."""
    with _handled():
        settings, registry = _settings(config)
        env = Environment.open(settings, registry)
        day = env.as_of(_parse_date(as_of, "--as-of"))
        with (
            scratch(env.engine, env.capabilities, day) as computation,
            env.engine.connect() as conn,
        ):
            data = build_report_data(conn, RowSource.scratch(computation), env.capabilities, day)
        write_report(output, data)
        out.print(f"wrote {output} (as of {day})")


@app.command()
def erase(
    config: ConfigOption,
    person: Annotated[str, typer.Option("--person", help="The HR id of the person to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Void everything about a person in the LRS and purge them from the store (GDPR art. 17)."""
    with _handled():
        settings, registry = _settings(config)
        if not yes:
            if not sys.stdin.isatty():
                _fail("erase is irreversible: confirm with --yes when not on a terminal", 2)
            typer.confirm(f"Erase {person} from the store and void their statements?", abort=True)
        env = Environment.open(settings, registry)
        result = run_erasure(env, person)
        counts = result.counts["erase"]
        out.print(
            f"erased: audit entry {counts['erasure_id']}; "
            + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "erasure_id")
        )
        deliver = result.counts.get("deliver", {})
        if deliver.get("target") == "lrs":
            out.print(f"voiding statements delivered to the LRS: {deliver.get('stored', 0)}")
        else:
            out.print("voiding statements are in the outbox (delivery target: store)")


@app.command()
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
    with _handled():
        settings, _ = _settings(config)
        engine = open_store(settings.store.url)
        report = health.build_report(engine, settings)
        if as_json:
            sys.stdout.write(health.as_json(report))
            if check and not report["ok"]:
                raise typer.Exit(4)
            return
        with engine.connect() as conn:
            runs = bookkeeping.recent_runs(conn)
            cursors = bookkeeping.all_cursors(conn)
            box = outbox.counts(conn)
            quarantined = bookkeeping.quarantine_counts(conn)
        table = Table(title="last runs", title_justify="left")
        for column in ("run", "started", "finished", "status"):
            table.add_column(column)
        for r in runs:
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


@quarantine_app.command("list")
def quarantine_list(
    config: ConfigOption,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Open quarantine entries: source, stream, record, where it was, and why."""
    with _handled():
        settings, _ = _settings(config)
        engine = open_store(settings.store.url)
        with engine.connect() as conn:
            entries = bookkeeping.quarantine_entries(conn, limit=limit)
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


@xapi_commands.app.command("profile")
def xapi_profile(
    config: ConfigOption,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of stdout.")
    ] = None,
    generated_at: Annotated[
        str | None, typer.Option(help="The version's generatedAtTime (default: now, UTC).")
    ] = None,
) -> None:
    """The JSON-LD xAPI Profile of adoptloop's verbs, activity types, extensions and templates."""
    with _handled():
        settings, _ = _settings(config)
        xapi_commands.profile_command(settings.xapi.namespace, output, generated_at)


@statements_app.command("export")
def statements_export(
    config: ConfigOption,
    output: Annotated[
        Path, typer.Option("--out", help="JSON Lines file to write.", show_default=False)
    ],
) -> None:
    """Write every statement made so far, one per line, in the order they were made."""
    with _handled():
        settings, _ = _settings(config)
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


register(app)  # serve, runs, quarantine retry, retention purge (scheduler/cli.py)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
