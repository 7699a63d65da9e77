"""LocalNotifier: wakes the P-GETs of this process that follow a stream that just grew.

It carries no events, only "look again": waiters re-read the log (the truth) when woken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class LocalNotifier:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def subscribe(self, streams: Iterable[str], wake: asyncio.Event) -> None:
        for stream in streams:
            self._waiters.setdefault(stream, set()).add(wake)

    def unsubscribe(self, streams: Iterable[str], wake: asyncio.Event) -> None:
        for stream in streams:
            waiting = self._waiters.get(stream)
            if waiting is not None:
                waiting.discard(wake)
                if not waiting:
                    del self._waiters[stream]

    def notify(self, streams: Iterable[str]) -> None:
        for stream in streams:
            for wake in self._waiters.get(stream, ()):
                wake.set()

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
