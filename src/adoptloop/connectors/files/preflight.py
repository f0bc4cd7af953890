"""Pre-flight: is a file readable as configured? Checked for every file before any source
commits, so a wrong setting stops the run (ConfigError, exit 2) instead of quarantining every
row or committing half of the sources.

A file fails the pre-flight when it cannot be opened (a directory, no permission), a byte does
not decode with its `encoding` (the message gives the line, the byte offset and the encoding
charset-normalizer guesses), it has no header row, a required column is missing (with the
closest header), or a typed column fails across the file: when no non-empty value of a date,
date-time or number column parses, or more than half fail, the `date_format` or `decimal` is
wrong, not the values (the message says which setting would read them). Fewer failures are row
defects, quarantined when the file is read.

A stream whose files are those its last committed read covered (their content hash is the
stream's cursor) is not read again, so it is not checked again either (`check_stream`): an
unchanged export costs a hash, not a parse, in every later run. `adoptloop reset SOURCE`
forgets the cursors, and the next run checks and reads the files whole.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from charset_normalizer import from_bytes

from adoptloop.connectors.files.reader import (
    FileStream,
    Layout,
    file_fingerprint,
    read_rows,
    unreadable,
)
from adoptloop.connectors.values import BadValue, Decimal, ValueFormat
from adoptloop.errors import ConfigError

CHUNK = 1 << 20
SAMPLE = 4 << 20  # bytes of the file charset-normalizer looks at for a guess
_DATE_FORMATS = (
    None,  # ISO 8601
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%d.%m.%y",
    "%d/%m/%y",
    "%m/%d/%y",
)


def check_stream(
    files: Sequence[tuple[FileStream, Layout]], stream: str, cursors: Mapping[str, str]
) -> None:
    """check_file for each of `stream`'s files, unless they are unchanged since the stream's
    last committed read (`cursors`, as Connector.restore hands them over): the read skips
    them then (reader.read_stream), and they passed this check before that read."""
    cursor = cursors.get(stream)
    if cursor is not None:
        try:
            if "+".join(file_fingerprint(spec.path) for spec, _ in files) == cursor:
                return
        except OSError:
            pass  # check_file names the file and why it cannot be read
    for spec, layout in files:
        check_file(spec, layout)


def check_file(spec: FileStream, layout: Layout) -> None:
    """Raise ConfigError naming file, line and the key to set when the file is unusable."""
    try:
        _check_decoding(spec, layout.where)
        _check_values(spec, layout)
    except OSError as exc:
        raise unreadable(spec.path, layout.where, exc) from None


def _check_decoding(spec: FileStream, where: str) -> None:
    encoding = spec.dialect.text_encoding
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0  # bytes of the file before `chunk`
    lines = 1
    with spec.path.open("rb") as fh:
        head = b""
        while True:
            chunk = fh.read(CHUNK)
            if len(head) < SAMPLE:
                head += chunk[: SAMPLE - len(head)]
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                before = data[: exc.start].decode(encoding, errors="replace")
                at = offset - len(pending) + exc.start
                raise _decode_error(
                    spec, where, lines + before.count("\n"), at, exc, head
                ) from None
            lines += text.count("\n")
            offset += len(chunk)
            if not chunk:
                return


def _decode_error(
    spec: FileStream, where: str, line: int, at: int, exc: UnicodeDecodeError, sample: bytes
) -> ConfigError:
    bad = exc.object[exc.start : exc.start + 1].hex()
    message = (
        f"{spec.path}:{line}: byte {at} (0x{bad}) cannot be read as {spec.encoding} ({exc.reason})"
    )
    guess = _guess_encoding(sample)
    if guess and codecs.lookup(guess).name != codecs.lookup(spec.encoding).name:
        message += f"; it looks like {guess}: set `encoding: {guess}` under {where}"
    else:
        message += f"; set the file's `encoding` under {where} (e.g. `encoding: cp1252`)"
    return ConfigError(message)


def _guess_encoding(sample: bytes) -> str | None:
    """charset-normalizer's guess, with a lean towards cp1252 (Excel's Western European
    default): short exports give charset-normalizer too little text, and it then names Farsi or
    Central European code pages for French or German. cp1252 is named when it is one of the
    encodings that read the sample alike, or when it reads the sample as Latin letters and
    typographic punctuation with accented letters a minority in the words that have them."""
    matches = list(from_bytes(sample))
    best = matches[0].encoding if matches else None
    if any("cp1252" in m.could_be_from_charset for m in matches):
        return "cp1252"
    if best is not None and codecs.lookup(best).name.startswith("utf"):
        return best
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return best
    words = [w for w in text.split() if not w.isascii()]
    letters = [ch for w in words for ch in w if ch.isalpha()]
    accented = [ch for ch in letters if not ch.isascii()]
    if all(_western(ch) for ch in set(text) if not ch.isascii()) and (
        2 * len(accented) < len(letters)
    ):
        return "cp1252"
    return best


def _western(ch: str) -> bool:
    return "LATIN" in unicodedata.name(ch, "") or ch in _PUNCTUATION


_PUNCTUATION = "\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2022\u2026\u20ac\xa0\xa1\xbf\xab\xbb\xb0\xa7\xa9\xae\u2122\xb7"


@dataclass
class _Column:
    name: str
    kind: str  # "date", "date-time" or "number"
    parse: Callable[[ValueFormat, str, str], Any]
    seen: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # the first few, and a count
    failures: int = 0

    def add(self, fmt: ValueFormat, line: int, value: str) -> None:
        self.seen += 1
        try:
            self.parse(fmt, value, self.name)
        except BadValue:
            self.failures += 1
            if len(self.failed) < 20:
                self.failed.append((line, value))

    @property
    def fails_across_the_file(self) -> bool:
        return self.seen > 0 and (self.failures == self.seen or 2 * self.failures > self.seen)


def _check_values(spec: FileStream, layout: Layout) -> None:
    fmt = spec.values
    columns = [
        *(_Column(c, "date", ValueFormat.parse_date) for c in layout.dates),
        *(_Column(c, "date-time", ValueFormat.parse_datetime) for c in layout.datetimes),
        *(_Column(c, "number", ValueFormat.parse_number) for c in layout.numbers),
    ]
    for row in read_rows(spec, layout):
        if row.defect is not None:
            continue
        for column in columns:
            value = row.get(column.name)
            if value:
                column.add(fmt, row.line, value)
    problems = [_problem(spec, layout, c) for c in columns if c.fails_across_the_file]
    if problems:
        raise ConfigError(problems[0], problems=problems)


def _problem(spec: FileStream, layout: Layout, column: _Column) -> str:
    line, example = column.failed[0]
    head = (
        f"{spec.path}:{line}: {column.name}: {column.failures} of {column.seen} values are not "
        f"{column.kind}s as configured (e.g. {example!r})"
    )
    values = [value for _, value in column.failed]
    if column.kind == "number":
        other: Decimal = "," if spec.decimal == "." else "."
        if _all_parse(ValueFormat(spec.date_format, other), column, values):
            return f'{head}; set `decimal: "{other}"` under {layout.where}'
        return f"{head}; check `decimal` under {layout.where} (now {spec.decimal!r})"
    for candidate in _DATE_FORMATS:
        if candidate == spec.date_format:
            continue
        if _all_parse(ValueFormat(candidate, spec.decimal), column, values):
            if candidate is None:
                return f"{head}; they are ISO 8601: remove `date_format` under {layout.where}"
            return f'{head}; set `date_format: "{candidate}"` under {layout.where}'
    now = spec.date_format or "ISO 8601"
    return f"{head}; set `date_format` (strftime) under {layout.where} (now {now})"


def _all_parse(fmt: ValueFormat, column: _Column, values: Sequence[str]) -> bool:
    try:
        for value in values:
            column.parse(fmt, value, column.name)
    except BadValue:
        return False
    return True
