"""structlog set-up: JSON lines when not on a terminal, a readable console on one.

Context (run_id, connector, stream) is bound through contextvars. A redaction processor
replaces every configured secret value wherever it appears in an event, and tracebacks are
rendered without local variables (they leak tokens).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

REDACTED = "[redacted]"


class Redactor:
    """Replaces known secret values (and values of secret-looking keys) in log events."""

    _SECRET_KEYS = ("password", "secret", "token", "authorization", "api_key", "key")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, _logger: Any, _method: str, event: EventDict) -> EventDict:
        return {k: self._clean(k, v) for k, v in event.items()}

    def _clean(self, key: str, value: Any) -> Any:
        if any(part in key.lower() for part in self._SECRET_KEYS) and key != "event":
            return REDACTED
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, MutableMapping):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean("", v) for v in value]
        return value


class _Stderr:
    """Writes to whatever sys.stderr is at the moment of writing (not at configure time), so
    an in-process CLI call whose stderr was swapped and closed leaves no dangling stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(
    *,
    secrets: Iterable[str] = (),
    json: bool | None = None,
    level: int = logging.INFO,
    stream: TextIO | None = None,
) -> None:
    out: Any = stream or _Stderr()
    use_json = (not out.isatty()) if json is None else json
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_json:
        processors += [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            Redactor(secrets),
            structlog.processors.JSONRenderer(sort_keys=True),
        ]
    else:
        processors += [
            Redactor(secrets),
            structlog.dev.ConsoleRenderer(
                exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
                if _has_rich()
                else structlog.dev.plain_traceback
            ),
        ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401, PLC0415 - optional pretty tracebacks on a terminal
    except ImportError:  # pragma: no cover - rich is a dependency
        return False
    return True
