"""Reading the CSV and JSON Lines drops of the file connectors.

- `read_rows` streams a file's rows with their line numbers; a missing required column stops
  the file with an error that names the file, the columns it has and the key to set.
- `read_stream` is the loop every file stream shares: an unchanged file (same content hash,
  the stream's cursor) is not even parsed; a changed one is read whole, each row becomes a
  domain record or a `Rejected` naming `file:line`, and the new hash is the checkpoint.
- `FileStream` is the config every file entry has (path, format, delimiter).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from adoptloop.connectors.values import BadValue
from adoptloop.domain import Checkpoint, Item, PersonRef, Record, Rejected, Skipped
from adoptloop.errors import FatalSyncError
from adoptloop.fields import ExistingPath
from adoptloop.mappings.identity import IdentityRule

FileFormat = Literal["csv", "jsonl"]


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


class Columns(BaseModel):
    """Base of each file's column names (frozen, unknown keys refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class FileStream(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: ExistingPath
    format: FileFormat | None = Field(default=None, description="csv or jsonl; default by suffix")
    delimiter: str = Field(default=",", min_length=1, max_length=1)


def read_stream(
    stream: str,
    spec: FileStream,
    cursor: str | None,
    *,
    required: Sequence[str],
    parse: Callable[[SourceRow], Record | Skipped],
    key_column: str,
    fingerprint: str | None = None,
) -> Iterator[Item]:
    """The shared loop: skip an unchanged file, parse rows, reject bad ones with file:line."""
    fingerprint = fingerprint or file_fingerprint(spec.path)
    if fingerprint != cursor:
        for row in read_rows(
            spec.path, fmt=spec.format, required=required, delimiter=spec.delimiter
        ):
            key = row.get(key_column) or f"line {row.line}"
            if "__error__" in row.values:
                yield Rejected(stream, key, row.location, row.values["__error__"])
                continue
            try:
                yield replace(parse(row), location=row.location)
            except BadValue as exc:
                yield Rejected(stream, key, row.location, str(exc))
    yield Checkpoint(stream, fingerprint)


def person_ref(
    system: str, external_id: str, row: SourceRow, rules: Sequence[IdentityRule]
) -> PersonRef:
    """A person as the source names them, with the attributes the identity rules match on."""
    attributes = {r.attribute: row.get(r.attribute) for r in rules if row.get(r.attribute)}
    return PersonRef(system, external_id, attributes)
