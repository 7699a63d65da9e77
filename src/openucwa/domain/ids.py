"""Identifiers: their shapes live here; where randomness comes from is injected (IdGenerator)."""

from __future__ import annotations

import base64
import os
import string
import threading
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
    def short_id(self) -> str: ...


class _EntropyPool:
    """OS CSPRNG bytes, fetched 4 KiB at a time: a getrandom() call costs ~25 µs on this kind
    of sandboxed machine, and a new meeting needs five ids. Bytes are never handed out twice."""

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._buffer = b""
        self._lock = threading.Lock()

    def take(self, n: int) -> bytes:
        with self._lock:
            if len(self._buffer) < n:
                self._buffer = os.urandom(max(self._chunk, n))
            out, self._buffer = self._buffer[:n], self._buffer[n:]
            return out

    def below(self, bound: int) -> int:
        """A uniform integer in [0, bound) by rejection sampling."""
        size = (bound.bit_length() + 7) // 8 + 1
        limit = (256**size // bound) * bound
        while True:
            value = int.from_bytes(self.take(size), "big")
            if value < limit:
                return value % bound


class RandomIds:
    """Unpredictable ids from the OS CSPRNG, in the shapes real UCWA servers mint."""

    def __init__(self) -> None:
        self._pool = _EntropyPool()

    def application_id(self) -> ApplicationId:
        # Traces show 12-digit decimal ids such as 103753940963.
        return ApplicationId(str(100_000_000_000 + self._pool.below(900_000_000_000)))

    def meeting_id(self) -> MeetingId:
        n = self._pool.below(len(MEETING_ID_ALPHABET) ** MEETING_ID_LENGTH)
        chars = []
        for _ in range(MEETING_ID_LENGTH):
            n, digit = divmod(n, len(MEETING_ID_ALPHABET))
            chars.append(MEETING_ID_ALPHABET[digit])
        return MeetingId("".join(chars))

    def conference_id(self) -> str:
        # A PSTN conference id: 8 decimal digits, never starting with 0.
        return str(10_000_000 + self._pool.below(90_000_000))

    def guid(self) -> str:
        """A random (version 4) UUID in its usual text form."""
        raw = bytearray(self._pool.take(16))
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def etag(self) -> str:
        # Real servers use decimal numbers ("3253045138").
        return str(1 + self._pool.below(4_294_967_295))

    def short_id(self) -> str:
        """An opaque 12-character id for conversations, invitations and messages."""
        return self._pool.take(6).hex()

    def token(self) -> str:
        return "cwt=" + base64.urlsafe_b64encode(self._pool.take(48)).decode().rstrip("=")


def is_meeting_id(value: str) -> bool:
    return len(value) == MEETING_ID_LENGTH and all(c in MEETING_ID_ALPHABET for c in value)
