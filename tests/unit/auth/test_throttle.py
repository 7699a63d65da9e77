"""SignInThrottle: free failures, doubling back-off up to a ceiling, success clears, bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openucwa.auth.throttle import SignInThrottle
from openucwa.domain.clock import FakeClock

TICK = 0.000001  # one microsecond: the smallest step FakeClock can take


def fail(throttle: SignInThrottle, account: str, times: int) -> None:
    for _ in range(times):
        throttle.failure(account)


def window(throttle: SignInThrottle, clock: FakeClock, account: str, seconds: float) -> bool:
    """True if the account is blocked for exactly ``seconds`` from now (advances the clock)."""
    clock.advance(seconds - TICK)
    still_blocked = throttle.is_blocked(account)
    clock.advance(TICK)
    return still_blocked and not throttle.is_blocked(account)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_the_free_failures_do_not_block(clock: FakeClock) -> None:
    throttle = SignInThrottle(clock, free_failures=5)
    fail(throttle, "alice", 4)
    assert not throttle.is_blocked("alice")
    throttle.failure("alice")
    assert throttle.is_blocked("alice")


def test_the_window_starts_at_base_and_ends_exactly(clock: FakeClock) -> None:
    throttle = SignInThrottle(clock, free_failures=1, base=timedelta(seconds=2))
    throttle.failure("alice")
    assert window(throttle, clock, "alice", 2)
    assert not window(throttle, clock, "bob", 2)


def test_each_further_failure_doubles_the_window(clock: FakeClock) -> None:
    throttle = SignInThrottle(clock, free_failures=3, base=timedelta(seconds=1))
    fail(throttle, "alice", 3)
    assert window(throttle, clock, "alice", 1)
    for seconds in (2, 4, 8, 16):
        throttle.failure("alice")
        assert window(throttle, clock, "alice", seconds)


def test_the_window_never_exceeds_the_ceiling(clock: FakeClock) -> None:
    throttle = SignInThrottle(
        clock, free_failures=1, base=timedelta(seconds=1), ceiling=timedelta(seconds=5)
    )
    fail(throttle, "alice", 4)  # 1, 2, 4, then 8 -> capped
    assert window(throttle, clock, "alice", 5)
    fail(throttle, "alice", 200)  # a huge exponent must neither overflow nor escape the cap
    assert window(throttle, clock, "alice", 5)


def test_default_ceiling_is_five_minutes(clock: FakeClock) -> None:
    throttle = SignInThrottle(clock)
    fail(throttle, "alice", 100)
    assert window(throttle, clock, "alice", 300)


def test_success_clears_the_record(clock: FakeClock) -> None:
    throttle = SignInThrottle(clock, free_failures=2)
    fail(throttle, "alice", 5)
    assert throttle.is_blocked("alice")
    throttle.success("alice")
    assert not throttle.is_blocked("alice")
    throttle.failure("alice")  # the free failures are available again
    assert not throttle.is_blocked("alice")
    throttle.success("nobody")  # unknown accounts are fine


def test_accounts_are_independent(clock: FakeClock) -> None:
    throttle = SignInThrottle(clock, free_failures=1)
    throttle.failure("alice")
    assert throttle.is_blocked("alice")
    assert not throttle.is_blocked("bob")


def test_the_table_is_bounded_and_forgets_the_oldest_failure(clock: FakeClock) -> None:
    throttle = SignInThrottle(clock, free_failures=1, max_entries=2)
    for account in ("a", "b", "a", "c"):  # "a" failed again after "b": "b" is the oldest
        throttle.failure(account)
    assert throttle.is_blocked("a") and throttle.is_blocked("c")
    assert not throttle.is_blocked("b")
    throttle.failure("d")
    assert not throttle.is_blocked("a")
    assert throttle.is_blocked("c") and throttle.is_blocked("d")
