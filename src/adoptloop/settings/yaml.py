"""Read YAML while remembering where every value came from, and resolve secret references.

`load_located(path)` returns plain Python data plus a `Locations` index from a key path
(("sources", "crm", "auth", "key")) to the line and column it was written at, so that a
pydantic error can be reported as `config/prod.yaml:14:7 sources.crm.auth.key: ...`.

String values may reference secrets kept outside the file: `${NAME}` reads the environment
variable NAME, `${file:path}` reads a file (relative paths are relative to the YAML file).
Such a value is returned as a `Reference`, checked for its syntax but not expanded: only a
field declared secret expands it (fields.Secret, fields.Sensitive), and validate_located
refuses one anywhere else. Aliases are bounded: a document that expands to more than
MAX_VALUES values (an alias bomb) is a ConfigError.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from adoptloop.errors import ConfigError
from adoptloop.fields import Reference

Loc = tuple[str | int, ...]

_REFERENCE = re.compile(r"\$\{(?P<body>[^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_VALUES = 100_000  # values a config may expand to; aliases past this are an alias bomb


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class Located:
    """YAML data plus where each key path was written."""

    path: Path
    data: Any
    marks: Mapping[Loc, Mark]
    references: Sequence[Reference] = ()

    def where(self, loc: Loc) -> str:
        """`file:line:col` for the longest prefix of `loc` that has a mark."""
        for end in range(len(loc), -1, -1):
            mark = self.marks.get(tuple(loc[:end]))
            if mark is not None:
                return f"{self.path}:{mark.line}:{mark.column}"
        return str(self.path)


def load_located(path: Path, *, environ: Mapping[str, str] | None = None) -> Located:
    """Parse one YAML file; references are resolved, each value's position recorded."""
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where} invalid YAML: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:  # a control character or bad encoding
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ConfigError(
            f"{path}:{line}:{column} invalid YAML: character #x{exc.character:04x} is not allowed"
        ) from None
    marks: dict[Loc, Mark] = {}
    if node is None:
        return Located(path, {}, marks)
    builder = _Builder(path, env, marks)
    data = builder.build(node, ())
    return Located(path, data, marks, builder.references)


class _Builder:
    def __init__(self, path: Path, env: Mapping[str, str], marks: dict[Loc, Mark]) -> None:
        self._path = path
        self._env = env
        self._marks = marks
        self._constructor = yaml.SafeLoader("")
        self.references: list[Reference] = []
        self._values = 0

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self._values += 1
        if self._values > MAX_VALUES:
            self._fail(
                node,
                f"the file expands to more than {MAX_VALUES:,} values (aliases repeating "
                "anchors, an alias bomb?); write the values out or use fewer aliases",
            )
        self._marks.setdefault(loc, Mark(node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            out: dict[Hashable, Any] = {}
            for key_node, value_node in node.value:
                key = self._construct(key_node)
                if not isinstance(key, str | int):
                    self._fail(key_node, "mapping keys must be strings")
                if key in out:
                    self._fail(key_node, f"duplicate key {key!r}")
                child = (*loc, key)
                self._marks[child] = Mark(
                    key_node.start_mark.line + 1, key_node.start_mark.column + 1
                )
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        value = self._construct(node)
        if isinstance(value, str) and "${" in value:
            return self._reference(value, node, loc)
        return value

    def _construct(self, node: yaml.Node) -> Any:
        """A scalar's Python value; a bad date (2026-13-45) or an unknown tag is located."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self._fail(node, f"invalid YAML: {exc.problem}")
        except ValueError as exc:
            self._fail(node, f"invalid value: {exc}")

    def _reference(self, value: str, node: yaml.Node, loc: Loc) -> Reference:
        """The value as written; its references are checked now and expanded only by a
        secret field (Reference.resolve)."""
        for match in _REFERENCE.finditer(value):
            body = match.group("body").strip()
            if not body.startswith("file:") and not _ENV_NAME.fullmatch(body):
                self._fail(node, f"'${{{body}}}' is neither ${{ENV_VAR}} nor ${{file:/path}}")

        def resolve(text: str) -> str:
            def replace(match: re.Match[str]) -> str:
                body = match.group("body").strip()
                if body.startswith("file:"):
                    return self._read_file(body.removeprefix("file:").strip(), node)
                if body not in self._env:
                    self._fail(node, f"environment variable {body} is not set")
                return self._env[body]

            return _REFERENCE.sub(replace, text)

        mark = node.start_mark
        where = f"{self._path}:{mark.line + 1}:{mark.column + 1}"
        reference = Reference(value, where=where, loc=loc, resolver=resolve)
        self.references.append(reference)
        return reference

    def _read_file(self, name: str, node: yaml.Node) -> str:
        target = Path(name).expanduser()
        if not target.is_absolute():
            target = self._path.parent / target
        try:
            return target.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            self._fail(node, f"secret file {target} not found")
        except (OSError, UnicodeDecodeError) as exc:
            self._fail(node, f"secret file {target} cannot be read ({exc.__class__.__name__})")

    def _fail(self, node: yaml.Node, message: str) -> NoReturn:
        mark = node.start_mark
        raise ConfigError(f"{self._path}:{mark.line + 1}:{mark.column + 1} {message}")
