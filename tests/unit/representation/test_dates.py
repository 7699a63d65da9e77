"""UCWA dates (spec §4.4, §5 E10): /Date(ms)/ and ISO 8601 in, both forms out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from openucwa.representation.dates import parse_date, to_aspnet, to_iso

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WHEN = EPOCH + timedelta(milliseconds=1474932029051)  # 2016-09-26T23:20:29.051Z


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (EPOCH, "/Date(0)/"),
        (WHEN, "/Date(1474932029051)/"),
        (WHEN + timedelta(microseconds=999), "/Date(1474932029051)/"),
        (EPOCH - timedelta(seconds=1), "/Date(-1000)/"),
        (EPOCH - timedelta(microseconds=1), "/Date(-1)/"),
        (WHEN.astimezone(timezone(timedelta(hours=-7))), "/Date(1474932029051)/"),
    ],
)
def test_to_aspnet(value: datetime, text: str) -> None:
    assert to_aspnet(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2016, 9, 26, 23, 20, 29, tzinfo=UTC), "2016-09-26T23:20:29Z"),
        (WHEN, "2016-09-26T23:20:29.051Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
        (datetime(2016, 9, 26, 23, 20, 29, 123456, tzinfo=UTC), "2016-09-26T23:20:29.123456Z"),
        (
            datetime(2016, 9, 26, 16, 20, 29, tzinfo=timezone(timedelta(hours=-7))),
            "2016-09-26T23:20:29Z",
        ),
    ],
)
def test_to_iso_is_always_utc_with_z(value: datetime, text: str) -> None:
    assert to_iso(value) == text


def utc(
    year: int, month: int, day: int, h: int = 0, m: int = 0, s: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, h, m, s, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("/Date(1474932029051)/", WHEN),
        ("\\/Date(1474932029051)\\/", WHEN),
        ("/Date(1474932029051+0200)/", WHEN),  # the offset is informational in ASP.NET
        ("/Date(1474932029051-0700)/", WHEN),
        ("/Date(0)/", EPOCH),
        ("/Date(-1000)/", utc(1969, 12, 31, 23, 59, 59)),
        ("  /Date(1474932029051)/\n", WHEN),
        ("2013-02-07T01:17:18.000Z", utc(2013, 2, 7, 1, 17, 18)),
        ("2013-02-07T01:17:18Z", utc(2013, 2, 7, 1, 17, 18)),
        ("2013-02-07t01:17:18z", utc(2013, 2, 7, 1, 17, 18)),
        ("2013-02-07 01:17:18Z", utc(2013, 2, 7, 1, 17, 18)),
        ("2013-02-07T01:17:18", utc(2013, 2, 7, 1, 17, 18)),
        ("2013-02-07T01:17Z", utc(2013, 2, 7, 1, 17)),
        ("2013-02-07T01:17+01:00", utc(2013, 2, 7, 0, 17)),
        ("2016-09-26T16:20:29.0389049-07:00", utc(2016, 9, 26, 23, 20, 29, 38904)),
        ("2016-09-26T16:20:29.5-0700", utc(2016, 9, 26, 23, 20, 29, 500000)),
        ("2013-02-07T05:47:18+05:30", utc(2013, 2, 7, 0, 17, 18)),
        ("2013-02-07T01:17:18-00:00", utc(2013, 2, 7, 1, 17, 18)),
        ("2013-02-07T01:17:18.123456789Z", utc(2013, 2, 7, 1, 17, 18, 123456)),
        ("2013-02-06T01:18:18+23:59", utc(2013, 2, 5, 1, 19, 18)),
    ],
)
def test_parse_date_accepts(text: str, value: datetime) -> None:
    parsed = parse_date(text)
    assert parsed == value
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "/Date()/",
        "/Date(abc)/",
        "/Date(1)",
        "Date(1)",
        "/Date(1234567890123456)/",  # more digits than any date needs
        "/Date(999999999999999)/",  # past year 9999
        "/Date(-999999999999999)/",
        "/Date(١٢٣)/",
        "2013-02-30T00:00:00Z",
        "2013-13-01T00:00Z",
        "2013-02-07T24:00Z",
        "2013-02-07T01:60Z",
        "2013-02-07T01:17:61Z",
        "2013-02-07",
        "2013-02-07T01Z",
        "2013-02-07T01:17:18.Z",
        "2013-02-07T01:17:18.1234567890Z",
        "2013-02-07T01:17:18+24:00",
        "2013-02-07T01:17:18+01:75",
        "2013-02-07T01:17:18+0199",
        "2013-02-07T01:17:18+01",
        "2013-02-07T01:17:18 UTC",
        "0000-01-01T00:00Z",
        "9999-12-31T23:59:59-01:00",  # valid text, but out of range once in UTC
        "٢٠١٣-٠٢-٠٧T01:17:18Z",
        "２０１３-０２-０７T01:17:18Z",
    ],
)
def test_parse_date_refuses(text: str) -> None:
    assert parse_date(text) is None


DATETIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@settings(database=None)
@given(DATETIMES)
def test_iso_round_trip_is_exact(value: datetime) -> None:
    assert parse_date(to_iso(value)) == value


@settings(database=None)
@given(DATETIMES)
def test_aspnet_round_trip_keeps_milliseconds(value: datetime) -> None:
    assert parse_date(to_aspnet(value)) == value.replace(
        microsecond=value.microsecond // 1000 * 1000
    )


def _never_raises(text: str) -> None:
    parsed = parse_date(text)
    assert parsed is None or parsed.tzinfo is UTC


@settings(database=None, max_examples=500)
@given(st.text())
def test_parse_date_never_raises_on_any_text(text: str) -> None:
    _never_raises(text)


@settings(database=None, max_examples=500)
@given(
    st.from_regex(
        r"\A\s?(\\?/Date\(-?[0-9]{1,15}([+-][0-9]{4})?\)\\?/"
        r"|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
        r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?)\s?\Z"
    )
)
def test_parse_date_never_raises_on_almost_dates(text: str) -> None:
    _never_raises(text)
