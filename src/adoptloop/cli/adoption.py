"""`adoptloop adoption | report`: the adoption table and the HTML report, from the store."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from adoptloop.cli.common import AsOfOption, ConfigOption, handled, load, out, parse_date
from adoptloop.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from adoptloop.adoption.metrics import MetricsRow
    from adoptloop.pipeline.run import Environment
    from adoptloop.store.metrics import RowSource


def register(app: typer.Typer) -> None:
    app.command()(adoption)
    app.command()(report)


def adoption(
    config: ConfigOption,
    by: Annotated[
        str | None,
        typer.Option(
            help="Group by region, team, manager, module or capability "
            "(default: adoption.by in the config, else region).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    as_of: AsOfOption = None,
) -> None:
    """Adoption by group and capability, from the store (reproducible with --as-of)."""
    from adoptloop.adoption.metrics import adoption_metrics, write_table_csv

    with handled():
        if by is not None and by not in ("region", "team", "manager", "module", "capability"):
            raise ConfigError(f"--by: {by!r} is not region, team, manager, module or capability")
        if fmt not in ("table", "csv", "json"):
            raise ConfigError(f"--format: {fmt!r} is not table, csv or json")
        with _computed(config, as_of) as (env, day, source, conn):
            group = by or env.settings.adoption.by
            rows = adoption_metrics(conn, source, env.capabilities, day, group)  # type: ignore[arg-type]
        if fmt == "table":
            print_adoption(rows, day)
        elif fmt == "json":
            sys.stdout.write(
                orjson.dumps(
                    {"as_of": day.isoformat(), "by": group, "rows": [r.record() for r in rows]},
                    option=orjson.OPT_INDENT_2,
                ).decode()
                + "\n"
            )
        else:
            write_table_csv(rows, sys.stdout)


def report(
    config: ConfigOption,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The HTML file to write, or a folder to write adoption.html in "
            "(default: adoption.html in adoption.output_dir; missing folders are made).",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """Write the self-contained HTML adoption report (opens offline; no CDN)."""
    from adoptloop.adoption.report.assemble import build_report_data, write_report
    from adoptloop.pipeline.adopt import report_options

    with handled():
        with _computed(config, as_of) as (env, day, source, conn):
            options = report_options(env.settings)
            data = build_report_data(conn, source, env.capabilities, day, options=options)
        target = output if output is not None else env.settings.adoption.output_dir
        if output is None or output.is_dir():
            target = target / "adoption.html"
        written = write_report(target, data)
        out.print(f"wrote {written.resolve()} (as of {day})", soft_wrap=True)


@contextmanager
def _computed(
    config: Path, as_of: str | None
) -> Iterator[tuple[Environment, date, RowSource, Connection]]:
    """The rep x capability rows computed as of --as-of (or the configured/today's date) into
    the store's scratch table, for one command to aggregate; removed afterwards."""
    from adoptloop.adoption.compute import scratch
    from adoptloop.pipeline.run import Environment
    from adoptloop.store.metrics import RowSource

    settings, registry = load(config)
    env = Environment.open(settings, registry)
    day = env.as_of(parse_date(as_of, "--as-of"))
    with scratch(env.engine, env.capabilities, day) as computation, env.engine.connect() as conn:
        yield env, day, RowSource.scratch(computation), conn


_SHOWN = (
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
_LABELS = {
    "observation_coverage": "coverage",
    "adoption_observed": "adopted/observed",
    "adoption_cohort": "adopted/cohort",
    "median_days_to_proficiency": "median days",
}


def print_adoption(rows: Sequence[MetricsRow], as_of: date | None) -> None:
    """The adoption table on the console, with the legend of its tiers."""
    table = Table(
        title=f"adoption as of {as_of} (cohort = trained reps whose window has closed)",
        title_justify="left",
    )
    for column in _SHOWN:
        table.add_column(
            _LABELS.get(column, column),
            justify="left" if column in ("group", "capability", "tier") else "right",
        )
    for row in rows:
        record = row.record()
        flag = " *" if record["flagged"] else ""
        table.add_row(
            *[_cell(record[c], c) + (flag if c == "adoption_observed" else "") for c in _SHOWN]
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
        return f"{100 * value:.1f}%"  # a fraction 0..1 in the CSV and JSON; percent here
    return str(value)
