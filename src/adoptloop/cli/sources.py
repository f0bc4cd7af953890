"""`adoptloop reset SOURCE`: operator commands about one configured source."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from adoptloop.cli.common import ConfigOption, fail, handled, load, out


def register(app: typer.Typer) -> None:
    app.command()(reset)


def reset(
    source: Annotated[str, typer.Argument(help="The source's name under `sources:`.")],
    config: ConfigOption,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget how far SOURCE was read (its cursors and file content hashes): the next run reads
    it again in full, and re-issues or voids statements only for what changed. A source read
    whole (a snapshot file, a Salesforce object) compares ids once its full read completes:
    what it no longer has is deleted and its statements voided.

    Waits for no run: exit 75 while one holds the store's run lock.

    Asks first unless --yes (required when stdin is not a terminal).
    """
    from adoptloop.pipeline.reset import reset_source
    from adoptloop.store.db import open_store

    with handled():
        settings, _ = load(config)
        if source not in settings.sources:
            known = ", ".join(sorted(settings.sources)) or "none"
            fail(f"reset: {config} has no source {source!r}; its sources are: {known}", 2)
        if not yes:
            if not sys.stdin.isatty():
                fail("reset: confirm with --yes when not on a terminal; nothing was changed", 2)
            if not typer.confirm(
                f"Forget how far {source} was read, so that the next run reads it all again?"
            ):
                fail("reset: not confirmed; nothing was changed", 2)
        engine = open_store(settings.store.url)
        forgotten = reset_source(engine, source, lease_seconds=settings.schedule.lock_lease_seconds)
        if forgotten:
            out.print(
                f"reset {source}: forgot {forgotten} cursor(s); the next run reads it again in "
                "full and re-issues or voids statements only for what changed",
                soft_wrap=True,
            )
        else:
            out.print(f"reset {source}: nothing to forget (it was never read)", soft_wrap=True)
