"""Tests for canonical JSON, timestamps and deterministic ids (adoptloop.xapi.canonical, .ids).

An LRS answers 409 to a statement id it already holds with any difference in the body, so the
same input must always give the same bytes and the same ids.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoptloop.xapi.canonical import digest, dumps, local_noon, timestamp
from adoptloop.xapi.ids import Pseudonymizer, StatementIds, uuid5_str

NAMESPACE = "https://xapi.example-pharma.com/adoptloop"
HOME_PAGE = "https://hr.example-pharma.com"
KEY = b"golden-test-key-0123456789"

_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")

_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


def _reversed(value: Any) -> Any:
    """The same JSON value with every object's keys inserted in the opposite order."""
    if isinstance(value, dict):
        return {k: _reversed(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


# --------------------------------------------------------------------------- dumps, digest


def test_dumps_sorts_keys_at_every_level_without_whitespace() -> None:
    statement = {"verb": {"id": "v", "display": {"en-US": "x"}}, "actor": {"b": 1, "a": [2, 1]}}
    assert (
        dumps(statement) == b'{"actor":{"a":[2,1],"b":1},"verb":{"display":{"en-US":"x"},"id":"v"}}'
    )


@given(st.dictionaries(st.text(), _JSON, max_size=6))
def test_dumps_gives_the_same_bytes_whatever_the_insertion_order(obj: dict[str, Any]) -> None:
    assert dumps(_reversed(obj)) == dumps(obj)
    assert digest(_reversed(obj)) == digest(obj)
    assert json.loads(dumps(obj)) == obj


def test_digest_differs_when_a_value_differs() -> None:
    assert digest({"score": 0.75}) != digest({"score": 0.7500001})
    assert re.fullmatch(r"[0-9a-f]{32}", digest({"score": 0.75}))


# --------------------------------------------------------------------------- timestamp


def test_timestamp_takes_a_naive_datetime_as_utc() -> None:
    naive = datetime(2026, 3, 2, 9, 5, 7)  # noqa: DTZ001 - the naive case is what is tested
    assert timestamp(naive) == "2026-03-02T09:05:07.000Z"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (
            datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2))),
            "2026-03-28T23:30:00.000Z",
        ),
        (
            datetime(2026, 1, 1, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2026-01-02T01:00:00.000Z",
        ),
        (datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")), "2026-07-01T06:30:00.000Z"),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "2026-07-01T12:00:00.000Z"),
    ],
)
def test_timestamp_converts_offsets_to_utc_with_z(moment: datetime, expected: str) -> None:
    assert timestamp(moment) == expected


@pytest.mark.parametrize(
    ("microsecond", "fraction"), [(0, ".000"), (999, ".000"), (1_500, ".001"), (999_999, ".999")]
)
def test_timestamp_truncates_to_milliseconds(microsecond: int, fraction: str) -> None:
    moment = datetime(2026, 12, 31, 23, 59, 59, microsecond, tzinfo=UTC)
    assert timestamp(moment) == f"2026-12-31T23:59:59{fraction}Z"


def test_timestamp_writes_years_before_1000_with_four_digits() -> None:
    assert timestamp(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05.000Z"


@given(
    st.datetimes(
        timezones=st.sampled_from([UTC, ZoneInfo("Europe/London"), ZoneInfo("Pacific/Kiritimati")])
    )
)
def test_timestamp_is_always_the_same_instant_in_utc_milliseconds(moment: datetime) -> None:
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # the instant is outside datetime's range in UTC
        return
    text = timestamp(moment)
    assert _TIMESTAMP.fullmatch(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed == in_utc.replace(microsecond=in_utc.microsecond // 1000 * 1000)


# --------------------------------------------------------------------------- local_noon


def test_local_noon_in_london_is_noon_utc_in_winter_and_eleven_in_summer() -> None:
    assert local_noon(date(2026, 1, 15), "Europe/London") == "2026-01-15T12:00:00.000Z"
    assert local_noon(date(2026, 7, 15), "Europe/London") == "2026-07-15T11:00:00.000Z"
    # the clocks go forward at 01:00 on 2026-03-29, so noon that day is already summer time
    assert local_noon(date(2026, 3, 29), "Europe/London") == "2026-03-29T11:00:00.000Z"


def test_local_noon_stays_on_the_local_date_where_the_offset_exceeds_12_hours() -> None:
    # Auckland is +13:00 in January: local noon is 23:00Z the day before, so the instant is
    # moved to 00:00Z, which is 13:00 local on the right day.
    assert local_noon(date(2026, 1, 15), "Pacific/Auckland") == "2026-01-15T00:00:00.000Z"
    assert local_noon(date(2026, 7, 15), "Pacific/Auckland") == "2026-07-15T00:00:00.000Z"
    assert local_noon(date(2026, 7, 15), "Pacific/Kiritimati") == "2026-07-15T00:00:00.000Z"
    assert local_noon(date(2026, 7, 15), "Etc/GMT+12") == "2026-07-15T23:59:59.999Z"


@given(
    day=st.dates(date(1900, 1, 1), date(2100, 12, 31)),
    zone=st.sampled_from(
        [
            "UTC",
            "Europe/London",
            "America/Los_Angeles",
            "Pacific/Pago_Pago",
            "Etc/GMT+12",
            "Asia/Tokyo",
            "Pacific/Auckland",
            "Pacific/Chatham",
            "Pacific/Kiritimati",
        ]
    ),
)
def test_local_noon_is_on_the_local_date_both_locally_and_in_utc(day: date, zone: str) -> None:
    text = local_noon(day, zone)
    assert _TIMESTAMP.fullmatch(text)
    assert text.startswith(day.isoformat() + "T")
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert instant.astimezone(ZoneInfo(zone)).date() == day


# --------------------------------------------------------------------------- StatementIds


def test_statement_id_is_a_deterministic_uuid5() -> None:
    first = StatementIds(NAMESPACE).statement("completion/lms/C000101", 1)
    assert StatementIds(NAMESPACE).statement("completion/lms/C000101", 1) == first
    assert uuid.UUID(first).version == 5
    assert str(uuid.UUID(first)) == first


@given(st.text(max_size=80), st.integers(1, 10_000))
def test_statement_and_voiding_ids_are_the_standard_uuid5(key: str, revision: int) -> None:
    """The fast path (a pre-seeded SHA-1) gives exactly uuid.uuid5 of the same name."""
    ids = StatementIds(NAMESPACE)
    root = uuid.uuid5(uuid.NAMESPACE_URL, NAMESPACE)
    statement = ids.statement(key, revision)
    assert statement == str(uuid.uuid5(root, f"{key}#{revision}"))
    assert ids.voiding(statement) == str(uuid.uuid5(root, f"void#{statement}"))
    assert uuid5_str(root.bytes, key) == str(uuid.uuid5(root, key))


def test_statement_id_differs_per_revision_key_and_namespace() -> None:
    ids = StatementIds(NAMESPACE)
    other = StatementIds("https://xapi.other-pharma.com/adoptloop")
    found = {
        ids.statement("completion/lms/C000101", 1),
        ids.statement("completion/lms/C000101", 2),
        ids.statement("completion/lms/C000102", 1),
        other.statement("completion/lms/C000101", 1),
    }
    assert len(found) == 4


def test_voiding_id_is_deterministic_and_not_the_voided_statements_id() -> None:
    ids = StatementIds(NAMESPACE)
    voided = ids.statement("visit/crm/a1C5g00000DXDCBEA5", 1)
    assert ids.voiding(voided) == StatementIds(NAMESPACE).voiding(voided)
    assert ids.voiding(voided) != voided
    assert ids.voiding(voided) != ids.voiding(ids.statement("visit/crm/a1C5g00000DXDCBEA5", 2))


# --------------------------------------------------------------------------- Pseudonymizer


def test_pseudonym_is_stable_across_instances_and_64_hex_chars() -> None:
    name = Pseudonymizer(HOME_PAGE, KEY).name("E10042")
    assert Pseudonymizer(HOME_PAGE, KEY).name("E10042") == name
    assert _HEX64.fullmatch(name)


def test_pseudonym_differs_per_key_and_per_person() -> None:
    names = {
        Pseudonymizer(HOME_PAGE, KEY).name("E10042"),
        Pseudonymizer(HOME_PAGE, KEY).name("E10043"),
        Pseudonymizer(HOME_PAGE, b"another-key-of-16+bytes").name("E10042"),
    }
    assert len(names) == 3


def test_pseudonymizer_rejects_a_key_shorter_than_16_bytes() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymizer(HOME_PAGE, b"x" * 15)
    Pseudonymizer(HOME_PAGE, b"x" * 16)  # the minimum is accepted


def test_agent_is_an_account_on_the_home_page() -> None:
    agent = Pseudonymizer(HOME_PAGE, KEY).agent("E10042")
    assert agent == {
        "objectType": "Agent",
        "account": {"homePage": HOME_PAGE, "name": Pseudonymizer(HOME_PAGE, KEY).name("E10042")},
    }


@given(
    hr_id=st.one_of(
        st.from_regex(r"E[0-9]{5}", fullmatch=True),
        st.from_regex(r"[a-z]{1,8}\.[a-z]{1,8}@example-pharma\.com", fullmatch=True),
        st.text(min_size=1).map(lambda s: f"HR-{s}"),
    )
)
def test_agent_never_contains_the_hr_id(hr_id: str) -> None:
    agent = Pseudonymizer(HOME_PAGE, KEY).agent(hr_id)
    assert hr_id not in dumps(agent).decode("utf-8")
    assert hr_id not in json.dumps(agent, ensure_ascii=False)
    assert _HEX64.fullmatch(agent["account"]["name"])
