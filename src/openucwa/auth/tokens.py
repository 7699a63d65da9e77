"""Opaque bearer tokens: ``cwt=`` + 64 random URL-safe characters; only a SHA-256 is stored."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from openucwa.auth.scopes import USER_SCOPES
from openucwa.domain.clock import Clock
from openucwa.domain.ids import IdGenerator
from openucwa.domain.tokens import TokenRecord, hash_token
from openucwa.domain.users import Caller
from openucwa.services.ports import TokenStore

MAX_TOKEN_LENGTH = 512
RECENT_SECONDS = 1.0
RECENT_LIMIT = 100_000


class Tokens:
    def __init__(
        self, store: TokenStore, ids: IdGenerator, clock: Clock, lifetime: timedelta
    ) -> None:
        self._store = store
        self._ids = ids
        self._clock = clock
        self.lifetime = lifetime
        # token -> (re-check after, expires at, caller): a token seen in the last second is not
        # hashed and looked up again (revocation from another process shows within a second).
        self._recent: dict[str, tuple[float, datetime, Caller]] = {}

    async def issue(self, subject_uri: str, kind: str = "user") -> tuple[str, int]:
        """A new token for ``subject_uri``; returns the token and its lifetime in seconds."""
        token = self._ids.token()
        now = self._clock.now()
        await self._store.add(
            TokenRecord(
                token_hash=hash_token(token),
                subject_uri=subject_uri,
                kind=kind,
                issued_at=now,
                expires_at=now + self.lifetime,
            )
        )
        return token, int(self.lifetime.total_seconds())

    async def verify(self, token: str) -> Caller | None:
        if not token.startswith("cwt=") or len(token) > MAX_TOKEN_LENGTH:
            return None
        now = self._clock.now()
        seen = self._recent.get(token)
        if seen is not None and time.monotonic() < seen[0] and now < seen[1]:
            return seen[2]
        token_hash = hash_token(token)
        record = await self._store.get(token_hash)
        if record is None or not record.is_valid(now):
            self._recent.pop(token, None)
            return None
        caller = Caller(
            uri=record.subject_uri, kind=record.kind, scopes=USER_SCOPES, token_hash=token_hash
        )
        if len(self._recent) >= RECENT_LIMIT:
            self._recent.clear()
        self._recent[token] = (time.monotonic() + RECENT_SECONDS, record.expires_at, caller)
        return caller

    async def revoke(self, token: str) -> bool:
        self._recent.pop(token, None)
        return await self._store.revoke(hash_token(token))

    async def revoke_all(self, subject_uri: str) -> int:
        self._recent.clear()
        return await self._store.revoke_for_subject(subject_uri)
