"""Cursors that hold a JSON state (an id map, per-learner marks), compressed into one string.

Any connector whose position is more than a timestamp uses these, whatever its family (the
SCIM and BambooHR HRIS connectors, the Moodle and SuccessFactors LMS connectors).
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)


def pack_state(state: dict[str, Any]) -> str:
    """A cursor holding a JSON state (e.g. an id map), compressed: `z1:<base64>`."""
    raw = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    return "z1:" + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode()


def unpack_state(cursor: str | None) -> dict[str, Any]:
    """The state of a cursor; an unreadable one starts over (a full, idempotent re-read)."""
    if not cursor:
        return {}
    try:
        state = orjson.loads(zlib.decompress(base64.urlsafe_b64decode(cursor.removeprefix("z1:"))))
    except (ValueError, zlib.error, orjson.JSONDecodeError):
        log.warning("cursor unreadable; reading everything again")
        return {}
    return state if isinstance(state, dict) else {}
