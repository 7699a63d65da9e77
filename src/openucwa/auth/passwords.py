"""Password hashing with argon2id (argon2-cffi). Hashes are never compared by hand."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, time_cost: int = 2, memory_cost: int = 19_456, parallelism: int = 1) -> None:
        # OWASP's argon2id minimum (19 MiB, t=2, p=1): ~20 ms here, run off the event loop.
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def dummy_verify(self, password: str) -> bool:
        """Spend the same time as a real check when the user does not exist: always False."""
        self.verify(self._dummy_hash, password)
        return False

    @property
    def _dummy_hash(self) -> str:
        cached: str | None = getattr(self, "_dummy", None)
        if cached is None:
            cached = self._hasher.hash("openucwa-dummy-password")
            self._dummy = cached
        return cached


class ChecksBusy(Exception):
    """As many password checks are running and waiting as the server takes."""


class PasswordChecks:
    """Password checks off the event loop, on threads of their own, with a bounded wait.

    ``workers`` checks run at once (argon2 holds ~19 MiB each); up to ``queue`` more wait for a
    thread. Past that a check is refused at once (``ChecksBusy``) instead of queueing: before,
    checks went to the loop's default executor without bound, and a sign-in made during a
    flood of 500 guesses at different names waited 11 s behind them (bench/README.md)."""

    def __init__(self, passwords: Passwords, workers: int, queue: int) -> None:
        self.passwords = passwords
        self._workers = workers
        self._limit = workers + queue
        self._pending = 0  # running or waiting; changed on the event loop only
        self._executor: ThreadPoolExecutor | None = None

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """``password_hash`` None: the user does not exist; the check takes as long anyway."""
        if self._pending >= self._limit:
            raise ChecksBusy()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="password")
        loop = asyncio.get_running_loop()
        if password_hash is None:
            job = self._executor.submit(self.passwords.dummy_verify, password)
        else:
            job = self._executor.submit(self.passwords.verify, password_hash, password)
        # Counted until the thread is done with it, not until the caller stops waiting: a
        # caller that goes away leaves a check running, and it still takes its place.
        self._pending += 1
        job.add_done_callback(lambda _: self._release_from(loop))
        return await asyncio.wrap_future(job)

    def _release_from(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the check's thread (or the loop's, if it was cancelled before it ran)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing counts any more
            loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        self._pending -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
