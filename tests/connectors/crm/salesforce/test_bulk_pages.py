"""Bulk API 2.0 result pages: their size (memory) and how their CSV becomes rows (issue 17).

The pull holds one result page while it parses it, so the page size bounds the pull's memory
whatever the size of the org; the CSV is parsed column by column with one converter per
column, and must give the rows csv.DictReader with the per-cell conversion gave.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adoptloop.connectors.crm.salesforce.bulk import parse_csv_chunks
from adoptloop.connectors.crm.salesforce.config import SyncSettings

TYPES = {"Flag": "boolean", "Count": "int", "Big": "long", "Score": "double", "Cost": "currency"}


def _reference(value: Any, field_type: str | None) -> Any:
    """How a CSV cell reads as the REST API's JSON value, written out once for comparison."""
    if value == "":
        return None
    if not isinstance(value, str):
        return value  # the list of a long row's extra cells
    if field_type == "boolean":
        return value.lower() == "true"
    if field_type in ("int", "long"):
        return int(float(value))
    if field_type in ("double", "currency", "percent"):
        return float(value)
    return value


def _cell(column: str) -> st.SearchStrategy[str]:
    kind = TYPES.get(column)
    if kind == "boolean":
        return st.sampled_from(["", "true", "false", "TRUE"])
    if kind in ("int", "long"):
        return st.sampled_from(["", "0", "42", "-7", "3.0"])
    if kind in ("double", "currency"):
        return st.sampled_from(["", "1.5", "-0.25", "4"])
    return st.text(alphabet='ab ,"\n', max_size=6)


@st.composite
def _pages(draw: st.DrawFn) -> tuple[list[str], str]:
    columns = draw(
        st.lists(st.sampled_from(["Id", "Name", *TYPES]), min_size=1, max_size=6, unique=True)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for _ in range(draw(st.integers(0, 12))):
        width = len(columns) + draw(st.sampled_from([0, 0, 0, -1, 1]))  # some ragged rows
        cells = [draw(_cell(c)) for c in [*columns, "Extra"][: max(width, 1)]]
        writer.writerow(cells)
    return columns, out.getvalue()


@given(_pages(), st.integers(1, 5))
def test_bulk_csv_rows_equal_dictreader_rows_with_each_cell_typed(
    page: tuple[list[str], str], size: int
) -> None:
    """Issue 17 point 1 (cheaper per-row work): one converter per column gives the same rows,
    in the same chunks, as csv.DictReader with each cell converted by its column's type."""
    _, text = page
    expected = [
        {k: _reference(v or "", TYPES.get(k) if k else None) for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(text, newline="\n"))
    ]
    chunks = list(parse_csv_chunks(text, TYPES, size))
    assert [len(c) for c in chunks[:-1]] == [size] * (len(chunks) - 1)
    assert [row for chunk in chunks for row in chunk] == expected


def test_bulk_result_pages_default_to_10000_rows_so_the_pull_holds_little() -> None:
    """Issue 17 point 2 (memory): a Bulk result page (maxRecords) is 10,000 rows by default,
    not 50,000: the pull holds one page while parsing it, so this bounds its memory."""
    assert SyncSettings().bulk_page_size == 10_000
