"""Clocks: the system one is aware UTC; the fake one moves only when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openucwa.domain.clock import FakeClock, SystemClock


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)


def test_fake_clock_moves_only_when_told() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = FakeClock(start)
    assert clock.now() == clock.now() == start
    clock.advance(1.5)
    assert clock.now() == start + timedelta(seconds=1.5)
    assert FakeClock().now().tzinfo is UTC
