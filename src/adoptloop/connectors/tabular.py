"""Reading CSV and JSON Lines drops: rows with their line numbers, values parsed with located errors."""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import orjson

from adoptloop.errors import FatalSyncError

FileFormat = Literal["csv", "jsonl"]


class BadValue(ValueError):
    """A value that cannot be parsed; the message names the column."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    path: Path
    line: int
    values: Mapping[str, str]

    @property
    def location(self) -> str:
        return f"{self.path.name}:{self.line}"

    def get(self, column: str) -> str:
        """The stripped value of a column, '' when empty or absent."""
        value = self.values.get(column)
        return "" if value is None else str(value).strip()

    def require(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise BadValue(f"{column} is empty")
        return value


def file_fingerprint(path: Path) -> str:
    """A content hash: an unchanged file is skipped without being parsed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_rows(
    path: Path, *, fmt: FileFormat | None = None, required: Sequence[str] = (), delimiter: str = ","
) -> Iterator[SourceRow]:
    """Stream rows; a missing required column stops the file with a located error."""
    fmt = fmt or ("jsonl" if path.suffix.lower() in {".jsonl", ".ndjson"} else "csv")
    if fmt == "jsonl":
        yield from _read_jsonl(path)
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise FatalSyncError(
                f"{path}:1: column(s) {', '.join(missing)} not found; the header has "
                f"{', '.join(header) or 'nothing'} (set the column names under `columns:`)"
            )
        for values in reader:
            yield SourceRow(path, reader.line_num, {k: v for k, v in values.items() if k})


def _read_jsonl(path: Path) -> Iterator[SourceRow]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield SourceRow(path, number, {"__error__": f"invalid JSON ({exc.msg})"})
                continue
            if not isinstance(obj, dict):
                yield SourceRow(path, number, {"__error__": "a line must hold a JSON object"})
                continue
            yield SourceRow(
                path, number, {str(k): "" if v is None else str(v) for k, v in obj.items()}
            )


def parse_date(value: str, column: str) -> date:
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{column}: {value!r} is not a date (YYYY-MM-DD)") from None


def optional_date(value: str, column: str) -> date | None:
    return parse_date(value, column) if value else None


def parse_datetime(value: str, column: str) -> datetime:
    """ISO 8601 with a zone (Z, +00:00 or Salesforce's +0000); a naive value is taken as UTC."""
    text = value.strip()
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(f"{column}: {value!r} is not an ISO 8601 date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def optional_datetime(value: str, column: str) -> datetime | None:
    return parse_datetime(value, column) if value else None


def parse_number(value: str, column: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadValue(f"{column}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadValue(f"{column}: {value!r} is not a finite number")
    return number
