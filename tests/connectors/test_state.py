"""Cursors holding a compressed JSON state: what goes in comes out, anything unreadable starts over."""

from __future__ import annotations

import base64
import zlib

import pytest
import structlog.testing

from adoptloop.connectors.state import pack_state, unpack_state


def test_a_packed_state_unpacks_to_the_same_state() -> None:
    state = {"ids": {"u1": "HR-1", "u2": "HR-2"}, "latest": "2026-03-02T08:00:00Z"}
    cursor = pack_state(state)
    assert cursor.startswith("z1:")
    assert unpack_state(cursor) == state


def test_equal_states_pack_to_the_same_cursor_whatever_the_key_order() -> None:
    assert pack_state({"a": 1, "b": 2}) == pack_state({"b": 2, "a": 1})


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_is_an_empty_state(cursor: str | None) -> None:
    assert unpack_state(cursor) == {}


@pytest.mark.parametrize("cursor", ["z1:not-base64-zlib", "2026-03-02T08:00:00Z", "z1:"])
def test_an_unreadable_cursor_starts_over_and_says_so(cursor: str) -> None:
    with structlog.testing.capture_logs() as logs:
        assert unpack_state(cursor) == {}
    assert [e["event"] for e in logs] == ["cursor unreadable; reading everything again"]


def test_a_cursor_whose_json_is_not_an_object_is_an_empty_state() -> None:
    cursor = "z1:" + base64.urlsafe_b64encode(zlib.compress(b"[1, 2]")).decode()
    assert unpack_state(cursor) == {}
