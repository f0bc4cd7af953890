"""`adoptloop run | erase`: one run of the pipeline, and the erasure of one person."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from adoptloop.cli import quick_exit
from adoptloop.cli.adoption import print_adoption
from adoptloop.cli.common import ConfigOption, JsonOption, fail, handled, load, out, parse_date

if TYPE_CHECKING:
    from adoptloop.pipeline.estimates_child import EstimatesChild
    from adoptloop.pipeline.run import RunResult


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(erase)


def run(
    config: ConfigOption,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge adoption as of this date (YYYY-MM-DD).")
    ] = None,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Apply the deletions of a snapshot export that lost more than 20 % of its "
            "records since the last good read (held back otherwise).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Everything but commit and deliver, on a scratch copy of the store: counts, "
            "quarantine reasons and three sample statements.",
        ),
    ] = False,
) -> None:
    """Pull, translate, deliver and compute adoption, once."""
    if dry_run:
        _dry_run(config, as_of, allow_shrink=allow_shrink)
        return
    with handled(), _estimates_ahead() as ahead:
        from adoptloop.pipeline.run import Environment, run_pipeline

        settings, registry = load(config)
        as_of_date = parse_date(as_of, "--as-of")
        env = Environment.open(settings, registry)
        if out.is_terminal:
            with out.status("starting…") as status:

                def progress(what: str, n: int) -> None:
                    status.update(f"pulling {what}: {n:,} records")

                result = run_pipeline(
                    env,
                    progress=progress,
                    as_of=as_of_date,
                    allow_shrink=allow_shrink,
                    estimates_process=ahead,
                )
        else:
            result = run_pipeline(
                env, as_of=as_of_date, allow_shrink=allow_shrink, estimates_process=ahead
            )
        _print_summary(result)
        quick_exit.ready(env.engine)  # committed: the store is closed, the heap not freed
    if result.problems:
        fail("\n".join(f"attention: {p}" for p in result.problems), result.exit_code)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@contextmanager
def _estimates_ahead() -> Iterator[EstimatesChild | None]:
    """The run's estimates process, started before anything else (pipeline/estimates_child.py):
    it imports the statistics libraries beside this command's own imports and the loading of
    its settings, which an incremental run's estimates otherwise waited for. The run ends it
    unused when its settings compute no estimates in a process of their own; None without
    the uplift extra."""
    from adoptloop.adoption import estimators
    from adoptloop.pipeline.estimates_child import EstimatesChild

    if not estimators.installed():
        yield None
        return
    child = EstimatesChild.spawn()
    try:
        yield child
    finally:
        child.close()


def _dry_run(config: Path, as_of: str | None, *, allow_shrink: bool) -> None:
    from adoptloop.pipeline.dry_run import dry_run

    with handled():
        settings, registry = load(config)
        trial = dry_run(
            settings,
            registry,
            as_of=parse_date(as_of, "--as-of"),
            allow_shrink=allow_shrink,
        )
        result = trial.run
        _print_summary(result, outputs=False)
        if trial.from_empty_store:
            out.print(
                "dry run from an empty store (the store is not a SQLite file here): the "
                "counts are those of a first run"
            )
        if trial.quarantined:
            table = Table(title="would quarantine", title_justify="left")
            for column in ("source", "stream", "reason", "rows"):
                table.add_column(column, overflow="fold")
            for source, stream, reason, n in trial.quarantined:
                table.add_row(source, stream, reason, str(n))
            out.print(table)
        out.print(f"sample statements ({len(trial.samples)} of those this run would queue):")
        for payload in trial.samples:
            out.print_json(payload.decode("utf-8"))
        out.print("dry run: nothing was committed to the store, delivered or written back")
    if result.problems:
        fail("\n".join(f"attention: {p}" for p in result.problems), result.exit_code)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _print_summary(result: RunResult, *, outputs: bool = True) -> None:
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
    if not outputs:
        return
    print_adoption(result.adoption, result.as_of)
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


def erase(
    config: ConfigOption,
    person: Annotated[str, typer.Option("--person", help="The HR id of the person to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Erase a person (GDPR art. 17): keep them out of every later pull, void their statements,
    re-issue the statements that name them in passing, and purge them from the store.

    Prints what was voided and purged, per kind (--json: as a JSON object). Exit 0 erased; 2 the
    person is unknown or already erased, the configuration is unusable, or no --yes off a
    terminal (nothing changed); 75 a run holds the store (nothing changed; try again); 3 or 75
    after the erasure was committed: the LRS refused us or stayed down, and the voiding
    statements wait in the outbox for the next run. See docs/operations.md.
    """
    from adoptloop.pipeline.run import Environment, run_erasure

    with handled():
        settings, registry = load(config)
        if not yes:
            if not sys.stdin.isatty():
                fail("erase is irreversible: confirm with --yes when not on a terminal", 2)
            typer.confirm(f"Erase {person} from the store and void their statements?", abort=True)
        env = Environment.open(settings, registry)
        result = run_erasure(env, person)
        counts = dict(result.counts["erase"])
        erasure_id = counts.pop("erasure_id")
        deliver = result.counts.get("deliver", {})
        target = str(deliver.get("target", "store"))
        if as_json:
            report = {
                "erasure_id": erasure_id,
                "counts": counts,
                "delivery": {"target": target, "stored": int(deliver.get("stored", 0))},
            }
            sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
            return
        table = Table(title=f"erased: audit entry {erasure_id}", title_justify="left")
        table.add_column("what")
        table.add_column("count", justify="right")
        for kind, n in counts.items():
            table.add_row(kind.replace("_", " "), str(n))
        out.print(table)
        if target == "lrs":
            out.print(f"voiding statements delivered to the LRS: {deliver.get('stored', 0)}")
        else:
            out.print("voiding statements are in the outbox (delivery target: store)")
