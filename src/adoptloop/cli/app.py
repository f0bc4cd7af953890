"""The `adoptloop` command, assembled from its command families."""

from __future__ import annotations

import typer

from adoptloop.cli import adoption, operate, run, service, setup, status, xapi


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="adoptloop",
        help="Is what we trained actually being applied in the field?",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for family in (setup, operate, run, adoption, status, service, xapi):
        family.register(app)
    return app


app = build_app()


def main() -> None:
    app()
