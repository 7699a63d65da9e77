"""Keeping floods out of the log: what anyone can repeat at will (refused connections, upgrade
requests) and what fails on every request during an outage (a full disk) is logged once per
``LOG_EVERY`` seconds, with how many there were."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

LOG_EVERY = 10.0  # seconds
MAX_KINDS = 100  # failure kinds counted apart; past it, new kinds are counted by type alone


class RateLog:
    """One warning per LOG_EVERY seconds for a kind of refusal, with how many there were: a
    flood of connections or of upgrade requests must not flood the log too."""

    def __init__(self, what: str) -> None:
        self.what = what  # "%d ..." with the count first
        self.last = float("-inf")
        self.unlogged = 0

    def note(self, logger: logging.Logger, now: float, *args: object) -> None:
        self.unlogged += 1
        if now - self.last >= LOG_EVERY:
            logger.warning(self.what, self.unlogged, *args)
            self.last, self.unlogged = now, 0


@dataclass(slots=True)
class _Kind:
    repeats: int = 0  # since the last line about this kind
    last: str = ""  # what failed last (e.g. "POST /ucwa/...")


class FailureLog:
    """Unhandled errors, one kind (exception type and message) at a time: the first is logged
    with its traceback; repeats are counted and, at the end of each LOG_EVERY seconds that had
    any, logged in one line with the count. A kind that stayed quiet a whole interval is
    forgotten, so the next outage shows its traceback again."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._kinds: dict[tuple[type[BaseException], str], _Kind] = {}

    def failed(self, exc: BaseException, what: str) -> None:
        """Call while handling ``exc`` (the traceback is logged from it) on the event loop."""
        key = (type(exc), str(exc)[:200])
        kind = self._kinds.get(key)
        if kind is None and len(self._kinds) >= MAX_KINDS:
            key = (type(exc), "")
            kind = self._kinds.get(key)
        if kind is not None:
            kind.repeats += 1
            kind.last = what
            return
        self.logger.error("unhandled error on %s", what, exc_info=exc)
        self._kinds[key] = _Kind(last=what)
        self._later(key)

    def _later(self, key: tuple[type[BaseException], str]) -> None:
        asyncio.get_running_loop().call_later(LOG_EVERY, self._interval_over, key)

    def _interval_over(self, key: tuple[type[BaseException], str]) -> None:
        kind = self._kinds[key]
        if not kind.repeats:
            del self._kinds[key]
            return
        kind_name, message = key[0].__qualname__, key[1]
        self.logger.error(
            "%d more of the unhandled error logged above (%s%s) in %g s, the last on %s",
            kind.repeats, kind_name, f": {message}" if message else "", LOG_EVERY, kind.last,
        )  # fmt: skip
        kind.repeats = 0
        self._later(key)
