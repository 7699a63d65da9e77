"""Slow down repeated failed sign-ins for one account without locking the server.

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
