"""`adoptloop xapi validate | profile`: validate statement files and emit the xAPI Profile."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from adoptloop.cli.common import ConfigOption, handled, load

if TYPE_CHECKING:
    from adoptloop.xapi.validate import XAPIVersion


def register(app: typer.Typer) -> None:
    xapi_app = typer.Typer(
        help="xAPI tools: validate statements, emit the xAPI Profile.", no_args_is_help=True
    )
    xapi_app.command("validate")(validate)
    xapi_app.command("profile")(profile)
    app.add_typer(xapi_app, name="xapi")


class UnreadableFile(Exception):
    pass


def read_statements(path: Path) -> Iterator[Any]:
    """Statements from a JSON array or a JSON Lines file (one statement per line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(
            f"{path}: cannot be read ({exc.strerror or exc.__class__.__name__})"
        ) from None
    text = raw.lstrip()
    if text.startswith(b"["):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UnreadableFile(
                f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})"
            ) from None
        yield from data
        return
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield _Unparsable(f"line {number}: not valid JSON ({exc.msg})")


class _Unparsable:
    def __init__(self, message: str) -> None:
        self.message = message


def validate(
    file: Annotated[Path, typer.Argument(help="A JSON array or JSON Lines file of statements.")],
    version: Annotated[str, typer.Option(help="xAPI version: 1.0.3 or 2.0.0.")] = "1.0.3",
) -> None:
    """One JSON line per statement: {"index", "valid", "errors"}; exit 65 if any is invalid."""
    from adoptloop.xapi.validate import validate_statement

    if version not in ("1.0.3", "2.0.0"):
        typer.echo(f"--version: {version!r} is not 1.0.3 or 2.0.0", err=True)
        raise typer.Exit(2)
    xapi_version: XAPIVersion = "2.0.0" if version == "2.0.0" else "1.0.3"
    invalid = 0
    try:
        for index, statement in enumerate(read_statements(file)):
            if isinstance(statement, _Unparsable):
                errors = [statement.message]
            else:
                errors = [str(p) for p in validate_statement(statement, version=xapi_version)]
            invalid += bool(errors)
            line = {"index": index, "valid": not errors, "errors": errors}
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
    except UnreadableFile as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(65 if invalid else 0)  # EX_DATAERR: the data needs a person


def profile(
    config: ConfigOption,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of stdout.")
    ] = None,
    generated_at: Annotated[
        str | None, typer.Option(help="The version's generatedAtTime (default: now, UTC).")
    ] = None,
) -> None:
    """The JSON-LD xAPI Profile of adoptloop's verbs, activity types, extensions and templates."""
    with handled():
        settings, _ = load(config)
        _write_profile(settings.xapi.namespace, output, generated_at)


def _write_profile(namespace: str, output: Path | None, generated_at: str | None) -> None:
    from adoptloop.xapi.profile import build_profile

    when = generated_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = build_profile(namespace, generated_at=when)
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
