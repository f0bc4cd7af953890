"""A CSV or JSON Lines file as rows with their line numbers, read strictly.

Every non-blank data line is accounted for exactly once: it is a row of values, or a row
defect (`RawRow.defect`) that the caller quarantines with `file:line`. Row defects:

- a stray or unterminated quote: csv would swallow the following lines into one field. When a
  record spans several physical lines and one of the lines after its first parses on its own
  as a row as wide as the header, the first line is the defect and the lines after it are read
  again (a genuine multi-line value rarely looks like a whole row);
- a quote still open at the end of the file, or a row with fewer fields than the header (a last
  line cut short), or more fields than the header;
- a field over 128 KiB (FIELD_LIMIT) and a NUL byte (PostgreSQL refuses it).

Bytes that do not decode are not a row defect: the pre-flight (`preflight.py`) stops the run
before they are read here (a file changed in between raises `UnicodeDecodeError`, which
`reader.read_rows` turns into a ConfigError).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

import orjson

FIELD_LIMIT = 128 * 1024  # characters; csv's own default limit, checked here too


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one file is written: the options of its entry."""

    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    decimal: Literal[".", ","] = "."

    @property
    def text_encoding(self) -> str:
        """The codec to open the file with: UTF-8 accepts (and drops) a byte order mark."""
        return "utf-8-sig" if codecs.lookup(self.encoding).name == "utf-8" else self.encoding


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int
    values: Mapping[str, str]
    defect: str | None = None


def open_text(path: Path, dialect: Dialect) -> TextIO:
    return path.open(encoding=dialect.text_encoding, newline="")


class _Lines:
    """The physical lines csv.reader consumes, numbered; lines can be pushed back to be read
    again, and `ran_out` says the reader asked for a line past the end (a quote left open)."""

    def __init__(self, fh: TextIO) -> None:
        self._file = iter(fh)
        self._count = 0
        self._back: list[tuple[int, str]] = []
        self.taken: list[tuple[int, str]] = []
        self.ran_out = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._back:
            number, text = self._back.pop()
        else:
            try:
                text = next(self._file)
            except StopIteration:
                self.ran_out = True
                raise
            self._count += 1
            number = self._count
        self.taken.append((number, text))
        return text

    def take(self) -> tuple[list[tuple[int, str]], bool]:
        taken, ran_out = self.taken, self.ran_out
        self.taken, self.ran_out = [], False
        return taken, ran_out

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._back.extend(reversed(lines))


@dataclass
class CsvRows:
    """A CSV file's header and, iterated, its data rows (`RawRow`s) in line order."""

    fh: TextIO
    dialect: Dialect
    header: list[str] = field(default_factory=list)
    header_line: int = 0
    header_defect: str | None = None
    _lines: _Lines = field(init=False)

    def __post_init__(self) -> None:
        self._lines = _Lines(self.fh)
        self._reader = csv.reader(
            self._lines, delimiter=self.dialect.delimiter, quotechar=self.dialect.quotechar
        )
        for line, fields, defect, _raw in self._records(width=None):
            self.header_line = line
            if fields is None:
                self.header_defect = defect
            else:
                self.header = [f.strip() for f in fields]
            return

    def __iter__(self) -> Iterator[RawRow]:
        width = len(self.header)
        if not width:
            return
        for line, fields, defect, raw in self._records(width):
            if defect is not None:
                yield RawRow(line, self._salvage(raw), defect)
            elif fields is not None:
                yield RawRow(line, dict(zip(self.header, fields, strict=True)))

    def _salvage(self, text: str) -> dict[str, str]:
        """What can still be read from a defective line on its own (NUL bytes dropped; a field
        past the size limit cut): the values of its leading columns, so that the record the
        line was meant to be (its id) is known. Empty when nothing can be read."""
        cleaned = text.replace("\x00", "").rstrip("\r\n")
        try:
            fields = next(
                csv.reader(
                    [cleaned], delimiter=self.dialect.delimiter, quotechar=self.dialect.quotechar
                ),
                [],
            )
        except csv.Error:  # a field over the limit: the plain split still finds the id
            fields = cleaned.split(self.dialect.delimiter)
        marks = (self.dialect.delimiter, self.dialect.quotechar, "\n")
        return {  # a value holding a delimiter or quote ran past its field: not trusted
            name: value
            for name, value in zip(self.header, fields, strict=False)
            if name and len(value) <= FIELD_LIMIT and not any(m in value for m in marks)
        }

    def _records(
        self, width: int | None
    ) -> Iterator[tuple[int, list[str] | None, str | None, str]]:
        """(first line, fields, defect, the first line's text); blank lines give nothing."""
        while True:
            error = None
            try:
                fields: list[str] | None = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                fields, error = None, str(exc)
            taken, ran_out = self._lines.take()
            if not taken:
                continue
            first = taken[0][0]
            if len(taken) > 1 and width and self._swallows(taken[1:], width):
                self._lines.push_back(taken[1:])
                defect = "a stray or unterminated quote (the lines after it were read)"
                yield first, None, defect, taken[0][1]
                continue
            if all(not text.strip() for _, text in taken):
                continue
            yield first, *_check(fields, error, width, ran_out=ran_out), taken[0][1]

    def _swallows(self, lines: list[tuple[int, str]], width: int) -> bool:
        """Whether one of these lines parses alone as a whole row."""
        for _, text in lines:
            if text.count(self.dialect.delimiter) < width - 1:
                continue  # too few delimiters to be a row: skip the parse
            try:
                alone = next(
                    csv.reader(
                        [text],
                        delimiter=self.dialect.delimiter,
                        quotechar=self.dialect.quotechar,
                    ),
                    [],
                )
            except csv.Error:
                continue
            if len(alone) == width:
                return True
        return False


def _check(
    fields: list[str] | None, error: str | None, width: int | None, *, ran_out: bool
) -> tuple[list[str] | None, str | None]:
    if error is not None or fields is None:
        if error and "field larger than field limit" in error:
            return None, f"a field is over {FIELD_LIMIT // 1024} KiB"
        return None, f"unreadable CSV ({error})"
    if ran_out:
        return None, "a quote is still open at the end of the file (the last line cut short?)"
    joined = "".join(fields)  # one scan for the common case: short fields, no NUL
    if len(joined) > FIELD_LIMIT and any(len(value) > FIELD_LIMIT for value in fields):
        return None, f"a field is over {FIELD_LIMIT // 1024} KiB"
    if "\x00" in joined:
        return None, "a NUL byte in a field"
    if width is not None and len(fields) > width:
        return None, f"{len(fields)} fields where the header has {width} (a stray delimiter?)"
    if width is not None and len(fields) < width:
        return None, f"{len(fields)} fields where the header has {width} (a line cut short?)"
    return fields, None


def jsonl_rows(fh: TextIO, dialect: Dialect) -> Iterator[RawRow]:
    """JSON Lines: one object per line; numbers are given as text with the file's decimal."""
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield RawRow(number, {}, f"invalid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            yield RawRow(number, {}, "a line must hold a JSON object")
            continue
        values = {str(k): _text(v, dialect.decimal) for k, v in obj.items()}
        if any(len(v) > FIELD_LIMIT for v in values.values()):
            yield RawRow(number, {}, f"a field is over {FIELD_LIMIT // 1024} KiB")
        elif any("\x00" in v for v in values.values()):
            yield RawRow(number, {}, "a NUL byte in a field")
        else:
            yield RawRow(number, values)


def _text(value: object, decimal: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and decimal == ",":
        return str(value).replace(".", ",")  # parsed back with the file's decimal
    return str(value)
