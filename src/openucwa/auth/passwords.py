"""Password hashing with argon2id (argon2-cffi). Hashes are never compared by hand."""

from __future__ import annotations

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

    def dummy_verify(self, password: str) -> None:
        """Spend the same time as a real check when the user does not exist."""
        self.verify(self._dummy_hash, password)

    @property
    def _dummy_hash(self) -> str:
        cached: str | None = getattr(self, "_dummy", None)
        if cached is None:
            cached = self._hasher.hash("openucwa-dummy-password")
            self._dummy = cached
        return cached
