"""Bearer tokens as the domain sees them: who, what kind, until when."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token at rest: only its SHA-256 is kept, never the token itself."""

    token_hash: str
    subject_uri: str
    kind: str  # "user"
    issued_at: datetime
    expires_at: datetime
    revoked: bool = False

    def is_valid(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
