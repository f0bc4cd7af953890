"""What every command shares: the --config option, the consoles, settings loading with log
redaction, and the mapping of our errors to exit statuses.

Exit codes: 0 done; 2 configuration or input unusable (nothing was written; do not retry);
3 credentials refused (a source or the LRS refused us: revoked or wrong credentials, or a
vendor error retrying cannot fix); 4 `status --check` found
problems; 65 done, but data over a limit needs a person; 70 an internal error (a bug: report
it with the log); 75 stopped early (API budget, the store busy or unreachable, the LRS down):
the next run resumes; 130 / 143 interrupted by Ctrl-C / SIGTERM at a checkpoint. Never 1 and
never a traceback. The table with what to do for each is in docs/operations.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import structlog
import typer
from rich.console import Console

from adoptloop import logging as adoptloop_logging
from adoptloop.cli.console import OutputConsole
from adoptloop.errors import AdoptloopError, ConfigError

if TYPE_CHECKING:
    from adoptloop.connectors.registry import Registry
    from adoptloop.settings.model import Settings

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The adoptloop YAML file.", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say what would change; change nothing.")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Judge every window as of this date.")
]

log = structlog.get_logger(__name__)

out = OutputConsole()  # plain and full-width when stdout is not a terminal (cron, a pipe)
err = Console(stderr=True, soft_wrap=True)  # one problem per line, never wrapped at 80


def fail(message: str, code: int) -> NoReturn:
    err.print(message, markup=False, highlight=False)
    raise typer.Exit(code)


@contextmanager
def handled() -> Iterator[None]:
    """Our errors become their message and exit status; never a traceback."""
    try:
        yield
    except ConfigError as exc:
        fail("\n".join(exc.problems), exc.exit_code)
    except AdoptloopError as exc:
        fail(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted; the next run resumes from the last checkpoint", 130)
    except (typer.Exit, typer.TyperException):
        raise  # a command's own exit status or usage error
    except typer.Abort:  # a confirmation answered no
        fail("not confirmed; nothing was done", 2)
    except OSError as exc:  # a path the user gave that cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"error: cannot use{where}: {exc.strerror or exc.__class__.__name__}", 2)
    except Exception as exc:  # a bug: say so in one line, never a traceback
        log.error("internal error", error=exc.__class__.__name__)  # noqa: TRY400 - no traceback
        log.debug("internal error", exc_info=exc)  # the traceback, only when asked for
        fail(
            f"internal error ({exc.__class__.__name__}); this is a bug in adoptloop — please "
            "report it with the log line 'internal error' (run with --log-level debug)",
            70,
        )


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"

    @property
    def number(self) -> int:
        return int(logging.getLevelName(self.value.upper()))


@dataclass(frozen=True)
class GlobalOptions:
    """The options given before the command: `adoptloop --log-level debug run ...`."""

    log_level: LogLevel = LogLevel.info


# Set by the app's callback for the duration of one invocation (see cli/app.py).
_global_options: ContextVar[GlobalOptions] = ContextVar("adoptloop_global_options")


def global_options() -> GlobalOptions:
    """The global options of the command being run (the defaults outside an invocation)."""
    return _global_options.get(GlobalOptions())


def use_global_options(ctx: typer.Context, options: GlobalOptions) -> None:
    """Make `options` the global options until the invocation `ctx` ends."""
    token = _global_options.set(options)
    ctx.call_on_close(lambda: _global_options.reset(token))


def configure_logging(secrets: list[str] | None = None) -> None:
    """structlog at the --log-level, redacting `secrets`."""
    adoptloop_logging.configure(secrets=secrets or (), level=global_options().log_level.number)


def load(path: Path) -> tuple[Settings, Registry]:
    """The settings (with the installed connectors) and logging that redacts their secrets."""
    from adoptloop.settings.model import load_with_connectors

    settings, registry = load_with_connectors(path)
    configure_logging(secret_values(settings))
    return settings, registry


def secret_values(settings: Settings) -> list[str]:
    """Every secret value in the settings, for the log redactor."""
    from pydantic import BaseModel

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


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None
