"""Opaque bearer tokens: ``cwt=`` + 64 random URL-safe characters; only a SHA-256 is stored."""

from __future__ import annotations

from datetime import timedelta

from openucwa.auth.scopes import USER_SCOPES
from openucwa.domain.clock import Clock
from openucwa.domain.ids import IdGenerator
from openucwa.domain.tokens import TokenRecord, hash_token
from openucwa.domain.users import Caller
from openucwa.services.ports import TokenStore

MAX_TOKEN_LENGTH = 512


class Tokens:
    def __init__(
        self, store: TokenStore, ids: IdGenerator, clock: Clock, lifetime: timedelta
    ) -> None:
        self._store = store
        self._ids = ids
        self._clock = clock
        self.lifetime = lifetime

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
        token_hash = hash_token(token)
        record = await self._store.get(token_hash)
        if record is None or not record.is_valid(self._clock.now()):
            return None
        return Caller(
            uri=record.subject_uri, kind=record.kind, scopes=USER_SCOPES, token_hash=token_hash
        )

    async def revoke(self, token: str) -> bool:
        return await self._store.revoke(hash_token(token))

    async def revoke_all(self, subject_uri: str) -> int:
        return await self._store.revoke_for_subject(subject_uri)
