"""Validate YAML data against a model; every error becomes one located line.

`config/prod.yaml:14:7 sources.crm.auth.kye: unknown field (did you mean 'key')`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from adoptloop.errors import ConfigError
from adoptloop.settings.yaml import Loc, Located

M = TypeVar("M", bound=BaseModel)


def validate_located(model: type[M], located: Located) -> M:
    """Validate YAML data against `model`; errors become one located line each."""
    try:
        validated = model.model_validate(located.data, context={"base_dir": located.path.parent})
    except ValidationError as exc:
        errors = exc.errors()
        # `namspace: ...` is reported as unknown (did you mean 'namespace'); the matching
        # "namespace: required field is missing" says the same thing again, so drop it.
        suggested = {_typo_target(e, model, located) for e in errors} - {None}
        problems = [
            _describe(error, model, located)
            for error in errors
            if not (
                error["type"] == "missing"
                and _data_loc(tuple(error["loc"]), located.data) in suggested
            )
        ]
        raise ConfigError(problems[0], problems=problems) from None
    unexpanded = [
        f"{r.where} {'.'.join(str(p) for p in r.loc) or '(top level)'}: {str(r)!r} is not "
        "expanded here: ${ENV} and ${file:...} work only in secret fields (passwords, keys, "
        "tokens, client secrets, client ids, user names); write this value itself"
        for r in located.references
        if not r.used
    ]
    if unexpanded:
        raise ConfigError(unexpanded[0], problems=unexpanded)
    return validated


def _suggestion(model: type[BaseModel], data_loc: Loc, data: Any) -> tuple[str | None, list[str]]:
    """For an unknown key at `data_loc`: the closest valid key, and all valid keys there."""
    known = _known_fields(model, data_loc[:-1], data)
    close = difflib.get_close_matches(str(data_loc[-1]), known, n=1, cutoff=0.6)
    return (close[0] if close else None), known


def _typo_target(error: Mapping[str, Any], model: type[BaseModel], located: Located) -> Loc | None:
    if error["type"] != "extra_forbidden":
        return None
    data_loc = _data_loc(tuple(error["loc"]), located.data)
    close, _ = _suggestion(model, data_loc, located.data)
    return None if close is None else (*data_loc[:-1], close)


def _describe(error: Mapping[str, Any], model: type[BaseModel], located: Located) -> str:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "type")  # the discriminator is what is wrong: point at it
    data_loc = _data_loc(loc, located.data)
    dotted = ".".join(str(p) for p in data_loc) or "(top level)"
    if kind == "extra_forbidden":
        close, known = _suggestion(model, data_loc, located.data)
        hint = f" (did you mean '{close}')" if close else ""
        if not close and known:
            hint = f" (valid here: {', '.join(sorted(known))})"
        message = f"unknown field{hint}"
    elif kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        tag = str(ctx.get("tag", ""))
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        similar = difflib.get_close_matches(tag, tags, n=1, cutoff=0.6)
        hint = f"did you mean '{similar[0]}'; " if similar else ""
        installed = ", ".join(f"'{t}'" for t in tags)
        message = f"unknown connector type '{tag}' ({hint}installed: {installed})"
    elif kind == "missing":
        message = "required field is missing"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    return f"{located.where(data_loc)} {dotted}: {message}"


def _data_loc(loc: Loc, data: Any) -> Loc:
    """Drop pydantic's union-tag parts (e.g. 'file-people') that are not keys of the data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = cast(Any, node)[part]
        elif isinstance(node, dict | list):
            # a tag pydantic inserted, or a key that is missing: keep a missing key, skip tags
            if not (isinstance(node, dict) and node.get("type") == part):
                out.append(part)
                node = None
        else:
            out.append(part)
            node = None
    return tuple(out)


def _known_fields(model: type[BaseModel], loc: Loc, data: Any) -> list[str]:
    """Field names valid at `loc` (walking models, dicts and connector unions)."""
    current: Any = model
    node = data
    for part in loc:
        node = node.get(part) if isinstance(node, dict) else None
        current = _child_type(current, part, node)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name, f in current.model_fields.items() if not f.exclude]
    return []


def _child_type(current: Any, part: str | int, node: Any) -> Any:
    if isinstance(current, type) and issubclass(current, BaseModel):
        field = current.model_fields.get(str(part))
        return _unwrap(field.annotation, node) if field else None
    origin = getattr(current, "__origin__", None)
    if origin in (dict, list):
        return _unwrap(current.__args__[-1], node)
    return None


def _unwrap(annotation: Any, node: Any) -> Any:
    """Reduce Optional/Annotated/union-of-configs to the one type that applies to `node`."""
    while getattr(annotation, "__metadata__", None) is not None:
        annotation = annotation.__origin__
    args = getattr(annotation, "__args__", None)
    if args and getattr(annotation, "__origin__", None) not in (dict, list):
        candidates = [a for a in args if a is not type(None)]
        for candidate in candidates:
            type_field = getattr(candidate, "model_fields", {}).get("type")
            if isinstance(node, dict) and type_field is not None:
                allowed = getattr(type_field.annotation, "__args__", ())
                if node.get("type") in allowed:
                    return candidate
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        return models[0] if len(models) == 1 else None
    return annotation
