"""The value parsers every connector uses: what they accept, and errors that name the column."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from adoptloop.connectors.values import (
    BadValue,
    optional_date,
    optional_datetime,
    parse_date,
    parse_datetime,
    parse_number,
)


def test_a_date_is_read_from_the_first_ten_characters_of_an_iso_value() -> None:
    assert parse_date("2026-02-03", "d") == date(2026, 2, 3)
    assert parse_date("2026-02-03T23:59:59+05:00", "d") == date(2026, 2, 3)


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("03.02.2026", "99.99.9999"),
        ("2026-2-3", "9999-9-9"),
        ("2026-02-30", "9999-99-99"),
        ("tomorrow", "aaaaaaaa"),
    ],
)
def test_a_date_in_another_form_names_the_column_and_the_value_s_shape(
    value: str, shape: str
) -> None:
    """Issue 15 point 2 (quarantine keeps no free text): the reason shows the value's shape."""
    with pytest.raises(BadValue, match=rf"^due: '{shape}' is not a date \(YYYY-MM-DD\)$"):
        parse_date(value, "due")


def test_a_reason_never_holds_a_long_free_text_value_only_its_length() -> None:
    """Issue 15 point 2: a comment typed into a date column leaves no word in the reason."""
    comment = "Dr Hollander asked about samples; call back after the congress"
    with pytest.raises(BadValue) as caught:
        parse_date(comment, "due")
    assert (
        str(caught.value) == f"due: a value of {len(comment)} characters is not a date (YYYY-MM-DD)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-03T10:00:00Z", datetime(2026, 2, 3, 10, tzinfo=UTC)),
        ("2026-02-03T10:00:00.000+0000", datetime(2026, 2, 3, 10, tzinfo=UTC)),  # Salesforce
        (
            "2026-02-03T10:00:00-0500",
            datetime(2026, 2, 3, 10, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("2026-02-03T10:00:00+01:00", datetime(2026, 2, 3, 9, tzinfo=UTC)),
        ("2026-02-03 10:00:00", datetime(2026, 2, 3, 10, tzinfo=UTC)),  # naive: UTC
    ],
)
def test_date_times_carry_a_zone(value: str, expected: datetime) -> None:
    parsed = parse_datetime(value, "at")
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_a_date_time_that_is_not_iso_names_the_column() -> None:
    with pytest.raises(BadValue, match=r"^at: '9 aaa 9999' is not an ISO 8601 date-time$"):
        parse_datetime("3 Feb 2026", "at")


@pytest.mark.parametrize("value", ["2026-02-22X10:35:00Z", "2026-02-22_10:35"])
def test_a_date_time_with_another_separator_than_t_or_space_is_refused(value: str) -> None:
    """Python's fromisoformat takes any character between date and time; ISO 8601 does not."""
    with pytest.raises(BadValue, match="is not an ISO 8601 date-time"):
        parse_datetime(value, "at")
    assert parse_datetime(value.replace(value[10], " "), "at").day == 22


def test_empty_optional_values_are_none_and_others_are_parsed() -> None:
    assert optional_date("", "d") is None
    assert optional_datetime("", "at") is None
    assert optional_date("2026-02-03", "d") == date(2026, 2, 3)
    assert optional_datetime("2026-02-03T10:00:00Z", "at") == datetime(2026, 2, 3, 10, tzinfo=UTC)
    with pytest.raises(BadValue):
        optional_date("x", "d")


def test_numbers_must_be_finite() -> None:
    assert parse_number("4", "score") == 4.0
    assert parse_number(" 87.5 ", "score") == 87.5
    with pytest.raises(BadValue, match=r"^score: 'aaaa' is not a number$"):
        parse_number("four", "score")
    for value in ("nan", "inf", "-Infinity"):
        with pytest.raises(BadValue, match="is not a finite number"):
            parse_number(value, "score")
