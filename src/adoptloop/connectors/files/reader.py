"""Reading the CSV and JSON Lines drops of the file connectors.

- `FileStream` is the config every file entry has: path, format, and how the file is written
  (`encoding`, `delimiter`, `quotechar`, `date_format`, `decimal`).
- `Layout` is what a connector reads from one file: its required columns (with the config key
  that names each), which columns hold dates, date-times and numbers, and the record id.
- `read_rows` streams a file's rows with their line numbers (`rows.py` reads them strictly).
- `read_stream` is the loop every file stream shares: an unchanged file (same content hash,
  the stream's cursor) is not even parsed; a changed one is read whole, each row becomes a
  domain record or a `Rejected` naming `file:line`, and the new hash is the checkpoint.
  A record id seen twice in one file: the first row is used, every later one is quarantined.

File-level problems (bytes that do not decode, a missing column, a wrong date format) are found
before any source commits by `preflight.check_file`.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from adoptloop.connectors.files.rows import CsvRows, Dialect, jsonl_rows, open_text
from adoptloop.connectors.files.seen import FirstSeen
from adoptloop.connectors.values import BadValue, Decimal, ValueFormat
from adoptloop.domain import (
    Checkpoint,
    Deleted,
    DeletedKind,
    Item,
    PersonRef,
    Record,
    Rejected,
    Skipped,
    Snapshot,
)
from adoptloop.errors import ConfigError
from adoptloop.fields import ExistingPath
from adoptloop.mappings.identity import IdentityRule

FileFormat = Literal["csv", "jsonl"]


@dataclass(frozen=True, slots=True)
class SourceRow:
    path: Path
    line: int
    values: Mapping[str, str]
    defect: str | None = None  # why the line is no row (a stray quote, a NUL byte, ...)

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


@dataclass(frozen=True, slots=True)
class Column:
    """A column as the file names it, and the config key (under the file's entry) that sets it."""

    name: str
    key: str


@dataclass(frozen=True)
class Layout:
    """What a connector reads from one file entry (config key `where`, e.g. sources.crm.reports)."""

    where: str
    required: Sequence[Column]
    key_column: str
    dates: Sequence[str] = ()
    datetimes: Sequence[str] = ()
    numbers: Sequence[str] = ()
    record_id: Callable[[SourceRow], str] | None = None  # default: the key column's value

    def id_of(self, row: SourceRow) -> str:
        return self.record_id(row) if self.record_id else row.get(self.key_column)


def file_fingerprint(path: Path) -> str:
    """A content hash: an unchanged file is skipped without being parsed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def missing_columns(
    spec: FileStream, layout: Layout, header: Sequence[str], line: int
) -> ConfigError | None:
    """The error for a header that cannot be read as configured: another delimiter (the whole
    header in one column), a column named twice, required columns it lacks (with the closest
    header of each)."""
    delimiter = _other_delimiter(spec, header)
    if delimiter is not None and header[0].lower().startswith("sep="):
        return ConfigError(
            f"{spec.path}:{line}: the first line is Excel's {header[0]!r} hint, not a header; "
            f"export without it (and set `delimiter: {delimiter!r}` under {layout.where})"
        )
    if delimiter is not None:
        return ConfigError(
            f"{spec.path}:{line}: the header is one column ({header[0][:80]!r}); the file looks "
            f"separated by {delimiter!r}: set `delimiter: {delimiter!r}` under {layout.where}"
        )
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        return ConfigError(
            f"{spec.path}:{line}: column(s) {', '.join(map(repr, twice))} appear more than once "
            f"in the header; rename one in the export, or point `columns` under {layout.where} "
            "at the one to read"
        )
    problems = []
    required = list(layout.required)
    if spec.deleted is not None:
        required.append(Column(spec.deleted.column, "deleted.column"))
    for column in required:
        if column.name in header:
            continue
        close = difflib.get_close_matches(column.name, header, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        # a key of the whole config (roles.column) is not set under the file's entry
        where = "" if column.key.startswith("roles.") else f" under {layout.where}"
        problems.append(
            f"{spec.path}:{line}: column {column.name!r} not found{hint}; set its name with "
            f"`{column.key}`{where} (the header has {', '.join(header)})"
        )
    return ConfigError(problems[0], problems=problems) if problems else None


_DELIMITERS = (";", "\t", "|", ",")


def _other_delimiter(spec: FileStream, header: Sequence[str]) -> str | None:
    """The delimiter a one-column header is really split by (an Excel `sep=;` line counts)."""
    if len(header) != 1:
        return None
    text = header[0]
    if text.lower().startswith("sep=") and len(text) >= 5:
        return text[4]
    found = [d for d in _DELIMITERS if d != spec.delimiter and text.count(d) >= 1]
    return max(found, key=text.count) if found else None


def read_rows(spec: FileStream, layout: Layout) -> Iterator[SourceRow]:
    """Stream rows; a missing required column stops the file with a located ConfigError."""
    path = spec.path
    try:
        with open_text(path, spec.dialect) as fh:
            if spec.file_format == "jsonl":
                for raw in jsonl_rows(fh, spec.dialect):
                    yield SourceRow(path, raw.line, raw.values, raw.defect)
                return
            rows = CsvRows(fh, spec.dialect)
            if not rows.header:
                what = rows.header_defect or "the file is empty"
                raise ConfigError(
                    f"{path}:{rows.header_line or 1}: no header row ({what}); the file of "
                    f"{layout.where} must start with a header naming its columns"
                )
            missing = missing_columns(spec, layout, rows.header, rows.header_line)
            if missing is not None:
                raise missing
            for raw in rows:
                yield SourceRow(path, raw.line, raw.values, raw.defect)
    except UnicodeDecodeError as exc:  # the pre-flight names line and byte; this is a fallback
        raise ConfigError(
            f"{path}: cannot be read as {spec.encoding} ({exc.reason}); set the file's "
            f"`encoding` under {layout.where}"
        ) from None
    except OSError as exc:
        raise unreadable(path, layout.where, exc) from None


class Columns(BaseModel):
    """Base of each file's column names (frozen, unknown keys refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def pick(self, *fields: str) -> list[Column]:
        """The named fields as required columns, each with its key `columns.<field>`."""
        return [Column(getattr(self, f), f"columns.{f}") for f in fields]


def _codec(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"{value!r} is not an encoding Python knows (e.g. cp1252)") from None
    return value


def _strftime(value: str) -> str:
    probe = date(2001, 2, 3)
    try:
        back = datetime.strptime(probe.strftime(value), value).date()  # noqa: DTZ007 - a date
    except ValueError:
        back = None
    if back != probe:
        raise ValueError(f"{value!r} does not write and read back a whole date (e.g. %d.%m.%Y)")
    return value


class DeletedFlag(BaseModel):
    """`mode: changes` (or any mode): the column that marks a row as deleted at the source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str = Field(min_length=1, description="The column that says a record was deleted")
    values: list[str] = Field(
        default=["true", "1", "yes", "y", "deleted", "x"],
        min_length=1,
        description="Its values (case-insensitive) that mean deleted; any other value: live",
    )

    def marks(self, row: SourceRow) -> bool:
        return row.get(self.column).lower() in {v.strip().lower() for v in self.values}


FileMode = Literal["snapshot", "changes"]


class FileStream(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: ExistingPath
    format: FileFormat | None = Field(default=None, description="csv or jsonl; default by suffix")
    encoding: Annotated[str, AfterValidator(_codec)] = Field(
        default="utf-8",
        description="The file's character encoding (a Python codec name, e.g. cp1252, latin-1); "
        "UTF-8 may start with a byte order mark",
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    date_format: Annotated[str, AfterValidator(_strftime)] | None = Field(
        default=None,
        description='How dates are written, as strftime (e.g. "%d.%m.%Y"); default ISO 8601. '
        "Date-times: ISO 8601, or this format followed by %H:%M[:%S]",
    )
    decimal: Decimal = Field(default=".", description='The decimal mark of numbers: "." or ","')
    mode: FileMode = Field(
        default="snapshot",
        description="snapshot: the file lists every record, and one it no longer lists is "
        "deleted (its statements voided; held back when more than 20 % went missing at once). "
        "changes: rows add or update records; deletions come only from `deleted`",
    )
    deleted: DeletedFlag | None = Field(
        default=None, description="A column marking deleted records (e.g. IsDeleted: true)"
    )

    @model_validator(mode="after")
    def _distinct_marks(self) -> FileStream:
        if self.delimiter == self.quotechar or self.delimiter in "\r\n":
            raise ValueError("delimiter must differ from quotechar and not be a line break")
        if self.decimal == "," and self.delimiter == "," and self.file_format == "csv":
            raise ValueError('decimal "," needs another delimiter (e.g. delimiter: ";")')
        return self

    @property
    def file_format(self) -> FileFormat:
        return self.format or ("jsonl" if self.path.suffix.lower() in _JSONL else "csv")

    @property
    def dialect(self) -> Dialect:
        return Dialect(self.encoding, self.delimiter, self.quotechar, self.decimal)

    @property
    def values(self) -> ValueFormat:
        return ValueFormat(self.date_format, self.decimal)


_JSONL = {".jsonl", ".ndjson"}


def read_stream(
    stream: str,
    spec: FileStream,
    layout: Layout,
    cursor: str | None,
    *,
    parse: Callable[[SourceRow], Record | Skipped],
    fingerprint: str | None = None,
    kind: DeletedKind | None = None,
) -> Iterator[Item]:
    """The shared loop: skip an unchanged file, parse rows, reject bad ones with file:line.

    With the `kind` of record the file holds, a row its `deleted` column marks is a `Deleted`
    tombstone, and a snapshot file read whole ends with a `Snapshot` item (what it no longer
    lists is deleted by the pull)."""
    try:
        fingerprint = fingerprint or file_fingerprint(spec.path)
    except OSError as exc:
        raise unreadable(spec.path, layout.where, exc) from None
    if fingerprint != cursor:
        for row in checked_rows(stream, spec, layout):
            if isinstance(row, Rejected):
                yield row
                continue
            if kind is not None and spec.deleted is not None and spec.deleted.marks(row):
                yield Deleted(kind, row.get(layout.key_column), location=row.location)
                continue
            try:
                yield replace(parse(row), location=row.location)
            except BadValue as exc:
                key = row.get(layout.key_column) or f"line {row.line}"
                yield Rejected(stream, key, row.location, str(exc))
        if kind is not None and spec.mode == "snapshot":
            yield Snapshot(stream)
    yield Checkpoint(stream, fingerprint)


def checked_rows(stream: str, spec: FileStream, layout: Layout) -> Iterator[SourceRow | Rejected]:
    """The file's rows, its row defects and later rows of a record id already seen rejected."""
    # the ids met so far, without an object per id (seen.py); read again from the start only
    # when two of them share a hash
    first_seen = FirstSeen(
        lambda: (
            (layout.id_of(row), row.line) for row in read_rows(spec, layout) if row.defect is None
        )
    )
    for row in read_rows(spec, layout):
        if row.defect is not None:
            record_id = layout.id_of(row) if row.get(layout.key_column) else ""
            if record_id:  # what the line was meant to be is known: a snapshot keeps it
                yield Rejected(stream, row.get(layout.key_column), row.location, row.defect)
            else:
                where = f"{row.path.name}:{row.line}"
                yield Rejected(stream, where, row.location, row.defect, unidentified=True)
            continue
        record_id = layout.id_of(row)
        first = first_seen.first_line(record_id, row.line)
        if first is not None:
            yield Rejected(
                stream,
                f"{row.get(layout.key_column)} ({row.path.name}:{row.line})",
                row.location,
                f"duplicate record id {record_id}: line {first} is used",
            )
            continue
        yield row


def unreadable(path: Path, where: str, exc: OSError) -> ConfigError:
    reason = exc.strerror or exc.__class__.__name__
    return ConfigError(f"{path}: cannot be read ({reason}); check {where}.path")


def person_ref(
    system: str, external_id: str, row: SourceRow, rules: Sequence[IdentityRule]
) -> PersonRef:
    """A person as the source names them, with the attributes the identity rules match on."""
    attributes = {r.attribute: row.get(r.attribute) for r in rules if row.get(r.attribute)}
    return PersonRef(system, external_id, attributes)
