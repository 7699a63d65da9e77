"""Slow down repeated failed sign-ins without locking the server: per account
(``SignInThrottle``) and per client address (``TokenBuckets``, which also bounds how fast one
user starts instant-messaging invitations: services/messaging.py).

After ``free_failures`` consecutive failures an account enters a back-off window that doubles
with each further failure (``base`` .. ``ceiling``). Attempts inside the window are refused
without checking the password (so guessing is slowed, and no CPU is spent on argon2); a
success clears the record. The table is bounded: the least recently failed accounts are
forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from openucwa.domain.clock import Clock


@dataclass(slots=True)
class _Record:
    failures: int
    blocked_until: datetime


class SignInThrottle:
    def __init__(
        self,
        clock: Clock,
        free_failures: int = 5,
        base: timedelta = timedelta(seconds=1),
        ceiling: timedelta = timedelta(minutes=5),
        max_entries: int = 100_000,
    ) -> None:
        self._clock = clock
        self._free = free_failures
        self._base = base
        self._ceiling = ceiling
        self._max = max_entries
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def is_blocked(self, account: str) -> bool:
        record = self._records.get(account)
        return record is not None and self._clock.now() < record.blocked_until

    def failure(self, account: str) -> None:
        now = self._clock.now()
        record = self._records.pop(account, None) or _Record(0, now)
        record.failures += 1
        excess = record.failures - self._free  # 0 on the failure that uses up the free ones
        if excess >= 0:
            delay = min(self._base * (2 ** min(excess, 30)), self._ceiling)
            record.blocked_until = now + delay
        self._records[account] = record
        while len(self._records) > self._max:
            self._records.popitem(last=False)

    def success(self, account: str) -> None:
        self._records.pop(account, None)


class TokenBuckets:
    """A token bucket per key: ``burst`` attempts at once, refilled at ``per_minute`` a minute.
    For failed sign-ins the key is the client address: an attempt takes a token when it is
    admitted, before its password is checked (so a burst of concurrent guesses is cut at
    ``burst``, not after every one of them was checked), and gives it back when it succeeds.
    An empty bucket refuses the attempt without any check. The per-account throttle cannot see
    a flood that names a different account each time; this one does. The table is bounded like
    SignInThrottle's."""

    def __init__(
        self, clock: Clock, per_minute: int = 60, burst: int = 60, max_entries: int = 100_000
    ) -> None:
        self._clock = clock
        self._rate = per_minute / 60.0  # tokens a second
        self._burst = float(burst)
        self._max = max_entries
        self._buckets: OrderedDict[str, tuple[float, datetime]] = OrderedDict()

    def _level(self, address: str, now: datetime) -> float:
        found = self._buckets.get(address)
        if found is None:
            return self._burst
        tokens, at = found
        elapsed = max((now - at).total_seconds(), 0.0)
        return min(self._burst, tokens + elapsed * self._rate)

    def admit(self, address: str) -> bool:
        now = self._clock.now()
        tokens = self._level(address, now)
        if tokens < 1.0:
            return False
        self._set(address, tokens - 1.0, now)
        return True

    def refund(self, address: str) -> None:
        """The admitted attempt succeeded (or was never checked): it does not count."""
        now = self._clock.now()
        tokens = self._level(address, now) + 1.0
        if tokens >= self._burst:
            self._buckets.pop(address, None)  # a full bucket is the same as no record
        else:
            self._set(address, tokens, now)

    def _set(self, address: str, tokens: float, now: datetime) -> None:
        self._buckets.pop(address, None)
        self._buckets[address] = (tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
