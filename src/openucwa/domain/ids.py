"""Identifiers: their shapes live here; where randomness comes from is injected (IdGenerator)."""

from __future__ import annotations

import secrets
import string
import uuid
from typing import NewType, Protocol

ApplicationId = NewType("ApplicationId", str)
MeetingId = NewType("MeetingId", str)
UserId = NewType("UserId", str)

MEETING_ID_ALPHABET = string.ascii_uppercase + string.digits
MEETING_ID_LENGTH = 8


class IdGenerator(Protocol):
    def application_id(self) -> ApplicationId: ...
    def meeting_id(self) -> MeetingId: ...
    def conference_id(self) -> str: ...
    def guid(self) -> str: ...
    def etag(self) -> str: ...
    def token(self) -> str: ...


class RandomIds:
    """Unpredictable ids from the OS CSPRNG, in the shapes real UCWA servers mint."""

    def application_id(self) -> ApplicationId:
        # Traces show 12-digit decimal ids such as 103753940963.
        return ApplicationId(str(100_000_000_000 + secrets.randbelow(900_000_000_000)))

    def meeting_id(self) -> MeetingId:
        return MeetingId(
            "".join(secrets.choice(MEETING_ID_ALPHABET) for _ in range(MEETING_ID_LENGTH))
        )

    def conference_id(self) -> str:
        # A PSTN conference id: 8 decimal digits, never starting with 0.
        return str(10_000_000 + secrets.randbelow(90_000_000))

    def guid(self) -> str:
        return str(uuid.uuid4())

    def etag(self) -> str:
        # Real servers use decimal numbers ("3253045138").
        return str(1 + secrets.randbelow(4_294_967_295))

    def token(self) -> str:
        return "cwt=" + secrets.token_urlsafe(48)


def is_meeting_id(value: str) -> bool:
    return len(value) == MEETING_ID_LENGTH and all(c in MEETING_ID_ALPHABET for c in value)
