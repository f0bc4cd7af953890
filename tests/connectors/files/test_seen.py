"""The duplicate check of a file read (seen.FirstSeen, reader.checked_rows): exact, and without
an object per record id held to the end of the read."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from adoptloop.connectors.files.reader import FileStream, Layout, checked_rows
from adoptloop.connectors.files.seen import FirstSeen
from adoptloop.domain import Rejected


class _OneHash(str):
    """A record id whose hash every other one shares: two ids met in one slot."""

    __slots__ = ()

    def __hash__(self) -> int:
        return 12345


def _pairs(ids: list[str]) -> list[tuple[str, int]]:
    return [(record_id, line) for line, record_id in enumerate(ids, start=2)]


def _first_lines(ids: list[str]) -> list[int | None]:
    pairs = _pairs(ids)
    seen = FirstSeen(lambda: iter(pairs))
    return [seen.first_line(record_id, line) for record_id, line in pairs]


def test_an_id_met_again_answers_its_first_line_past_the_tables_growth() -> None:
    ids = [f"C{n}" for n in range(20_000)] + ["C7", "C19999", "C20000", "C7"]

    answers = _first_lines(ids)

    assert answers[:20_000] == [None] * 20_000
    assert answers[20_000:] == [9, 20_001, None, 9]


def test_two_ids_that_share_a_hash_are_two_records() -> None:
    ids = ["C1", _OneHash("C2"), _OneHash("C3"), "C4", _OneHash("C2"), "C1", _OneHash("C5")]

    assert _first_lines(ids) == [None, None, None, None, 3, 2, None]


def test_a_large_file_read_keeps_no_object_per_record_id(tmp_path: Path) -> None:
    # 60,000 ids held to the end of the read as strings and line numbers in a dict took ~8 MB;
    # their hashes in one array ~1 MB
    path = tmp_path / "completions.csv"
    rows = "".join(f"C{n:06d},u{n}\n" for n in range(60_000))
    path.write_text(f"record_id,user_id\n{rows}", encoding="utf-8")
    spec = FileStream(path=path)
    layout = Layout(where="sources.lms", required=(), key_column="record_id")

    tracemalloc.start()
    try:
        used = sum(not isinstance(row, Rejected) for row in checked_rows("lms", spec, layout))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert used == 60_000
    assert peak < 4 * 2**20
