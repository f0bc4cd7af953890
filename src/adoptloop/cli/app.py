"""The `adoptloop` command, assembled from its command families, and its global options.

Each family module imports what its commands need inside them, so that `adoptloop --help` and
`adoptloop --version` start without loading the store, the settings models or the connectors.
"""

from __future__ import annotations

import contextvars
from typing import Annotated

import typer

from adoptloop import __version__
from adoptloop.cli import (
    adoption,
    operate,
    quick_exit,
    run,
    service,
    setup,
    sources,
    status,
    uplift,
    xapi,
)
from adoptloop.cli.common import GlobalOptions, LogLevel, configure_logging, use_global_options


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="adoptloop",
        help="Is what we trained actually being applied in the field?",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(global_options)
    for family in (setup, operate, run, sources, adoption, uplift, status, service, xapi):
        family.register(app)
    return app


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"adoptloop {__version__}")
        raise typer.Exit


def global_options(
    ctx: typer.Context,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            "--log-level",
            case_sensitive=False,
            envvar="ADOPTLOOP_LOG_LEVEL",
            help="Log events at this level and above (to stderr: JSON lines, or readable "
            "on a terminal).",
        ),
    ] = LogLevel.info,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print `adoptloop <version>` and exit.",
        ),
    ] = False,
) -> None:
    """Is what we trained actually being applied in the field?"""
    use_global_options(ctx, GlobalOptions(log_level=log_level))
    configure_logging()


app = build_app()


def main() -> None:
    """The `adoptloop` command, as a process: a command that said its work is done
    (quick_exit.ready) ends it without the interpreter's teardown, with its exit status."""
    context = contextvars.Context()  # this call's own: a ready() before it does not count
    try:
        context.run(app)
    except SystemExit as done:
        context.run(quick_exit.leave, done.code)  # returns when the process exits as usual
        raise
