"""Row <-> domain conversions shared by the SQL repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def load(text: str) -> Any:
    return orjson.loads(text)
