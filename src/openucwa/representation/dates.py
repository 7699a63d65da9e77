"""UCWA dates: ``/Date(ms)/`` in JSON, ISO 8601 in XML; both accepted on input (spec §4.4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_ASPNET = re.compile(r"^\\?/Date\((-?\d{1,15})(?:([+-])(\d{2})(\d{2}))?\)\\?/$", re.ASCII)
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$",
    re.ASCII,  # \d is [0-9]: no Arabic-Indic or full-width digits
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


MILLISECOND = timedelta(milliseconds=1)


def to_aspnet(value: datetime) -> str:
    # Milliseconds since the epoch, rounded down: timedelta // timedelta is exact integer math.
    return f"/Date({(value - EPOCH) // MILLISECOND})/"


def to_iso(value: datetime) -> str:
    value = value.astimezone(UTC)
    text = value.replace(tzinfo=None).isoformat(timespec="seconds")  # 4-digit year, unlike %Y
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_date(text: str) -> datetime | None:
    """Parse either form; None when the text is neither (or out of range)."""
    text = text.strip()
    try:
        match = _ASPNET.match(text)
        if match:
            ms = int(match.group(1))
            return EPOCH + timedelta(milliseconds=ms)
        match = _ISO.match(text)
        if match is None:
            return None
        year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
        second = int(match.group(6) or 0)
        fraction = (match.group(7) or "").ljust(6, "0")[:6]
        zone = match.group(8)
        tz: tzinfo = UTC
        if zone and zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            if offset >= timedelta(hours=24) or int(digits[2:]) >= 60:
                return None
            tz = timezone(sign * offset)
        value = datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=tz)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
