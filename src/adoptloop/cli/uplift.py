"""`adoptloop uplift | raters`: what training caused, and rater leniency, from the store.

Both need the optional extra `adoptloop[uplift]` (diff-diff); without it they exit 2 saying
what to install. Method and assumptions: docs/uplift.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from adoptloop.cli.common import AsOfOption, ConfigOption, handled, load, out, parse_date
from adoptloop.errors import ConfigError

if TYPE_CHECKING:
    from adoptloop.adoption.raters import Leniency
    from adoptloop.adoption.uplift import Uplift

FormatOption = Annotated[str, typer.Option("--format", help="table, csv or json.")]


def register(app: typer.Typer) -> None:
    app.command()(uplift)
    app.command()(raters)


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "csv", "json"):
        raise ConfigError(f"--format: {fmt!r} is not table, csv or json")


def uplift(
    config: ConfigOption,
    by: Annotated[
        str | None,
        typer.Option(help="Also estimate per region or manager.", show_default=False),
    ] = None,
    fmt: FormatOption = "table",
    as_of: AsOfOption = None,
) -> None:
    """What training caused: the effect on the share of proficient ratings in the window after
    training, against reps not yet trained (imputation difference-in-differences)."""
    from adoptloop.adoption.uplift import uplift as estimate
    from adoptloop.adoption.uplift import write_csv
    from adoptloop.pipeline.run import Environment

    with handled():
        if by is not None and by not in ("region", "manager"):
            raise ConfigError(f"--by: {by!r} is not region or manager")
        _check_format(fmt)
        settings, registry = load(config)
        env = Environment.open(settings, registry)
        day = env.as_of(parse_date(as_of, "--as-of"))
        with env.engine.connect() as conn:
            rows = estimate(conn, env.capabilities, day, by)  # type: ignore[arg-type]
        if fmt == "csv":
            write_csv(rows, sys.stdout)
        elif fmt == "json":
            _json({"as_of": day.isoformat(), "by": by, "rows": [r.record() for r in rows]})
        else:
            _print_uplift(rows, day)


def raters(config: ConfigOption, fmt: FormatOption = "table", as_of: AsOfOption = None) -> None:
    """Each coaching manager's leniency against the region's average rater, adjusted for which
    reps they rated and when, with 95 % intervals."""
    from adoptloop.adoption.raters import raters as estimate
    from adoptloop.adoption.raters import write_csv
    from adoptloop.pipeline.run import Environment

    with handled():
        _check_format(fmt)
        settings, registry = load(config)
        env = Environment.open(settings, registry)
        day = env.as_of(parse_date(as_of, "--as-of"))
        with env.engine.connect() as conn:
            rows = estimate(conn, day)
        if fmt == "csv":
            write_csv(rows, sys.stdout)
        elif fmt == "json":
            _json({"as_of": day.isoformat(), "rows": [r.record() for r in rows]})
        else:
            _print_raters(rows, day)


def _json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"


def _print_uplift(rows: Sequence[Uplift], as_of: date) -> None:
    from adoptloop.adoption.uplift import MIN_LEAD_REPS

    table = Table(
        title=f"uplift as of {as_of}: effect of training on the share of proficient ratings "
        "(points), against reps not yet trained",
        title_justify="left",
    )
    for column in ("group", "capability", "effect", "95% interval", "trained", "comparison"):
        table.add_column(column, justify="left" if column in ("group", "capability") else "right")
    table.add_column("naive before/after", justify="right")
    table.add_column("note")
    for row in rows:
        cells = row.record()
        interval = (
            f"{_pct(row.ci_low)} .. {_pct(row.ci_high)}" if cells["ci_low"] is not None else "-"
        )
        table.add_row(
            row.group,
            row.capability,
            _pct(cells["estimate"]),
            interval,
            str(cells["n_trained"] if cells["n_trained"] is not None else "-"),
            str(cells["n_comparison"] if cells["n_comparison"] is not None else "-"),
            _pct(cells["naive_before_after"]),
            row.reason or ("" if cells["estimate"] is not None else row.tier.value),
        )
    out.print(table)
    out.print(
        "pre-trend check (event-study leads: the 'effect' k two-week periods before training; should be near 0):"
    )
    for row in rows:
        if row.pretrend is None or row.group != "(all)" or row.estimate is None:
            continue
        if row.pretrend.p_value is None:
            out.print(
                f"  {row.capability}: too few ratings before training to test (under "
                f"{MIN_LEAD_REPS} trained reps rated in two periods before their training)",
                soft_wrap=True,
            )
            continue
        leads = ", ".join(f"{k}: {_pct(v)}" for k, v in sorted(row.pretrend.leads.items()))
        if row.pretrend.p_value < 0.05:
            verdict = "leads differ from 0: parallel trends doubtful, read the effect with care"
        else:
            verdict = "no sign of a pre-trend"
        out.print(
            f"  {row.capability}: {leads} (joint p = {row.pretrend.p_value:.3f}) {verdict}",
            soft_wrap=True,
        )
    out.print(
        "method: imputation difference-in-differences (Borusyak, Jaravel and Spiess), rep and "
        "two-week effects, 95% intervals clustered by rep; naive before/after is shown for "
        "contrast only. Trained under 5: suppressed; 5-9: counts only. See docs/uplift.md.",
        soft_wrap=True,
    )


def _print_raters(rows: Sequence[Leniency], as_of: date) -> None:
    table = Table(
        title=f"rater leniency as of {as_of} (points on the 0..1 scale against the region's "
        "average rater, adjusted for whom and when they rated)",
        title_justify="left",
    )
    for column in ("manager", "region", "ratings", "reps", "leniency", "95% interval", "note"):
        table.add_column(
            column, justify="right" if column in ("ratings", "reps", "leniency") else "left"
        )
    for row in rows:
        cells = row.record()
        interval = (
            f"{_pct(row.ci_low)} .. {_pct(row.ci_high)}" if cells["ci_low"] is not None else "-"
        )
        table.add_row(
            row.manager,
            row.region,
            str(cells["n_ratings"] if cells["n_ratings"] is not None else "-"),
            str(cells["n_reps"] if cells["n_reps"] is not None else "-"),
            _pct(cells["leniency"]),
            interval,
            cells["reason"] or ("" if cells["leniency"] is not None else row.tier.value),
        )
    out.print(table)
    out.print(
        "reps rated under 5: suppressed; 5-9: counts only. An interval across 0 means no "
        "evidence of a difference. See docs/uplift.md.",
        soft_wrap=True,
    )
