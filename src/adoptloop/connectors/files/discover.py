"""`adoptloop discover` for the file connectors: each file's columns, which of them the mapping
reads, what it names that the file lacks, and capability-map items that match nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import orjson
from pydantic import BaseModel

from adoptloop.connectors.base import StreamFields
from adoptloop.connectors.files.reader import FileStream, Layout, unreadable
from adoptloop.connectors.files.rows import CsvRows, open_text
from adoptloop.errors import ConfigError

_JSONL_SAMPLE = 200  # lines of a JSON Lines file whose keys are listed as its columns


def header(spec: FileStream, where: str) -> list[str]:
    """The columns of a file: a CSV's header, or the keys of a JSON Lines file's first lines."""
    try:
        with open_text(spec.path, spec.dialect) as fh:
            if spec.file_format == "jsonl":
                keys: dict[str, None] = {}
                for line in itertools.islice(fh, _JSONL_SAMPLE):
                    try:
                        obj = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(obj, dict):
                        keys.update(dict.fromkeys(str(k) for k in obj))
                return list(keys)
            return CsvRows(fh, spec.dialect).header
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{spec.path}: cannot be read as {spec.encoding} ({exc.reason}); set the file's "
            f"`encoding` under {where}"
        ) from None
    except OSError as exc:
        raise unreadable(spec.path, where, exc) from None


def configured_columns(spec: BaseModel) -> list[str]:
    """Every column name a file entry's config names: its `columns`, identity attributes and
    deleted column, and the ratings-file columns (`report_id`, `item`, `value`)."""
    names: list[str] = []
    columns = getattr(spec, "columns", None)
    if isinstance(columns, BaseModel):
        for field in type(columns).model_fields:
            value = getattr(columns, field)
            names += [value] if isinstance(value, str) else list(value or [])
    for rule in getattr(spec, "identity", None) or []:
        names.append(str(rule.attribute))
    deleted = getattr(spec, "deleted", None)
    if deleted is not None:
        names.append(deleted.column)
    for field in ("report_id", "item", "value"):  # a ratings file's own columns
        value = getattr(spec, field, None)
        if isinstance(value, str):
            names.append(value)
    return list(dict.fromkeys(n for n in names if n))


def describe(
    stream: str,
    spec: FileStream,
    layout: Layout,
    *,
    also_read: Iterable[str] = (),
    items: Sequence[str] = (),
    item_values: Iterable[str] | None = None,
) -> StreamFields:
    """One file: `also_read` are columns read beyond the config's (e.g. rating columns);
    `items` the capability-map items looked for, among the columns or, with `item_values`,
    among those values (a ratings file's item column)."""
    available = header(spec, layout.where)
    wanted = list(dict.fromkeys([*configured_columns(spec), *also_read]))
    present = set(available)
    required = [c.name for c in layout.required]
    found = set(item_values) if item_values is not None else present
    return StreamFields(
        stream=stream,
        where=spec.path.name,
        available=tuple(available),
        used=tuple(c for c in available if c in set(wanted)),
        missing=tuple(
            f"{c} (required)" if c in required else c for c in wanted if c not in present
        ),
        unmatched_items=tuple(i for i in items if i not in found),
    )
