"""Row defects are quarantined with file and line and every other row is read: each non-blank
data line is either used or quarantined, exactly once."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from adoptloop.connectors.files.completions import (
    CompletionsFileConfig,
    CompletionsFileConnector,
)
from adoptloop.domain import Completion, Rejected
from adoptloop.testing.kit import drain, make_context

RUN_DATE = date(2026, 6, 30)
HEADER = "record_id,user_id,user_email,module_id,module_title,status,completed_at,score\n"


def row(n: int, title: str = "Objections") -> str:
    return f"C{n},u-{n},,MOD-1,{title},completed,2026-02-03T10:00:00Z,80\n"


def read(tmp_path: Path, body: str | bytes) -> tuple[list[str], list[tuple[str, str]]]:
    path = tmp_path / "completions.csv"
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    path.write_bytes(HEADER.encode() + data)
    settings = CompletionsFileConfig.model_validate({"type": "file-completions", "path": path})
    connector = CompletionsFileConnector(settings, make_context(name="lms", run_date=RUN_DATE))
    connector.preflight()  # none of these is a file-level problem
    items: list[Any] = drain(connector, "completions")
    used = [i.source_record_id for i in items if isinstance(i, Completion)]
    rejected = [(r.location, r.reason) for r in items if isinstance(r, Rejected)]
    return used, rejected


def test_a_stray_quote_in_a_2000_row_file_quarantines_only_its_line(tmp_path: Path) -> None:
    rows = [row(n) for n in range(1, 2001)]
    rows[999] = row(1000, title='"Objections, part 2')  # the quote is never closed

    used, rejected = read(tmp_path, "".join(rows))

    assert rejected == [
        ("completions.csv:1001", "a stray or unterminated quote (the lines after it were read)")
    ]
    assert len(used) == 1999
    assert "C1000" not in used
    assert used[-1] == "C2000"


def test_a_stray_quote_before_a_quoted_field_of_a_later_row_still_costs_one_line(
    tmp_path: Path,
) -> None:
    body = row(1, title='"Objections') + row(2) + row(3, title='"Objections, part 3"') + row(4)

    used, rejected = read(tmp_path, body)

    assert used == ["C2", "C3", "C4"]
    assert [location for location, _ in rejected] == ["completions.csv:2"]


def test_a_value_over_several_lines_in_quotes_is_one_row(tmp_path: Path) -> None:
    body = row(1, title='"Objections:\nthe reframe\nand the pause"') + row(2)

    used, rejected = read(tmp_path, body)

    assert used == ["C1", "C2"]
    assert rejected == []


def test_a_last_line_cut_mid_row_is_quarantined(tmp_path: Path) -> None:
    used, rejected = read(tmp_path, row(1) + row(2) + "C3,u-3,,MOD-1,Obj")

    assert used == ["C1", "C2"]
    assert rejected == [
        ("completions.csv:4", "5 fields where the header has 8 (a line cut short?)")
    ]


def test_a_last_line_cut_inside_quotes_is_quarantined(tmp_path: Path) -> None:
    used, rejected = read(tmp_path, row(1) + 'C2,u-2,,MOD-1,"Objections, the re')

    assert used == ["C1"]
    assert rejected == [
        (
            "completions.csv:3",
            "a quote is still open at the end of the file (the last line cut short?)",
        )
    ]


def test_a_row_with_more_fields_than_the_header_is_quarantined(tmp_path: Path) -> None:
    used, rejected = read(tmp_path, row(1) + row(2, title="Objections, part 2") + row(3))

    assert used == ["C1", "C3"]
    assert rejected == [
        ("completions.csv:3", "9 fields where the header has 8 (a stray delimiter?)")
    ]


def test_a_duplicate_record_id_keeps_the_first_row_and_quarantines_the_others(
    tmp_path: Path,
) -> None:
    used, rejected = read(tmp_path, row(1) + row(2) + row(1, title="Other") + row(1))

    assert used == ["C1", "C2"]
    assert rejected == [
        ("completions.csv:4", "duplicate record id C1: line 2 is used"),
        ("completions.csv:5", "duplicate record id C1: line 2 is used"),
    ]


def test_a_field_over_128_kib_is_quarantined(tmp_path: Path) -> None:
    used, rejected = read(tmp_path, row(1) + row(2, title="x" * 200 * 1024) + row(3))

    assert used == ["C1", "C3"]
    assert rejected == [("completions.csv:3", "a field is over 128 KiB")]


def test_a_quoted_field_over_128_kib_is_quarantined(tmp_path: Path) -> None:
    used, rejected = read(tmp_path, row(1) + row(2, title=f'"{"x" * 200 * 1024}"') + row(3))

    assert used == ["C1", "C3"]
    assert rejected == [("completions.csv:3", "a field is over 128 KiB")]


def test_a_nul_byte_is_quarantined(tmp_path: Path) -> None:
    used, rejected = read(tmp_path, row(1) + row(2, title="Obj\x00ections") + row(3))

    assert used == ["C1", "C3"]
    assert rejected == [("completions.csv:3", "a NUL byte in a field")]


def test_a_completion_after_the_run_date_is_quarantined(tmp_path: Path) -> None:
    future = "C2,u-2,,MOD-1,,completed,2026-07-01T08:00:00Z,\n"

    used, rejected = read(tmp_path, row(1) + future)

    assert used == ["C1"]
    assert rejected == [
        (
            "completions.csv:3",
            "completed_at: 2026-07-01T08:00:00+00:00 is in the future (the run date is 2026-06-30)",
        )
    ]


def test_blank_lines_are_skipped_and_every_other_line_is_accounted_once(tmp_path: Path) -> None:
    body = row(1) + "\n" + row(2) + "   \n" + '"' + row(3) + row(1) + "C9,u\n" + row(4)

    used, rejected = read(tmp_path, body)

    data_lines = sum(1 for line in body.splitlines() if line.strip())
    assert len(used) + len(rejected) == data_lines
    assert used == ["C1", "C2", "C4"]
