"""Identifiers: their shapes live here; where randomness comes from is injected (IdGenerator)."""

from __future__ import annotations

import base64
import io
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
    of sandboxed machine, and a new meeting needs five ids. Bytes are never handed out twice.

    A draw is one ``BytesIO.read``: a single C call, so under the GIL no two threads can read
    the same bytes, and no lock is taken per draw (with one, a draw cost ~4.7k instructions
    against ~2.1k; the lock now only keeps two threads from both refilling). A short read's
    bytes are dropped, never handed out."""

    __slots__ = ("_chunk", "_stream", "_lock", "_bounds")

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._stream = io.BytesIO()
        self._lock = threading.Lock()
        self._bounds: dict[int, tuple[int, int]] = {}  # bound -> (bytes drawn, limit)

    def take(self, n: int) -> bytes:
        out = self._stream.read(n)
        while len(out) < n:
            stream = self._stream
            with self._lock:
                if stream is self._stream:  # not refilled by another thread meanwhile
                    self._stream = io.BytesIO(os.urandom(max(self._chunk, n)))
            out = self._stream.read(n)
        return out

    def below(self, bound: int) -> int:
        """A uniform integer in [0, bound) by rejection sampling."""
        found = self._bounds.get(bound)
        if found is None:
            size = (bound.bit_length() + 7) // 8 + 1
            found = self._bounds[bound] = (size, (256**size // bound) * bound)
        size, limit = found
        while True:
            value = int.from_bytes(self.take(size), "big")
            if value < limit:
                return value % bound


# A meeting id is drawn a byte per character: the bytes below 252 (7 x 36) map uniformly onto
# the alphabet; the four others are dropped and drawn again (one id in eight draws twice).
# ~0.7 us, against ~2 us for one big integer split by a divmod per character.
_ACCEPTED = 256 - 256 % len(MEETING_ID_ALPHABET)
_TO_ALPHABET = bytes(
    ord(MEETING_ID_ALPHABET[b % len(MEETING_ID_ALPHABET)]) if b < _ACCEPTED else 0
    for b in range(256)
)
_REJECTED = bytes(range(_ACCEPTED, 256))
_ETAG_BOUND = 4_294_967_295
# A random hex digit -> the RFC 4122 variant digit keeping its two low bits (as "& 0x3F | 0x80"
# on the byte would); ~1.8k instructions less than patching a bytearray.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


class RandomIds:
    """Unpredictable ids from the OS CSPRNG, in the shapes real UCWA servers mint."""

    def __init__(self) -> None:
        self._pool = _EntropyPool()

    def application_id(self) -> ApplicationId:
        # Traces show 12-digit decimal ids such as 103753940963.
        return ApplicationId(str(100_000_000_000 + self._pool.below(900_000_000_000)))

    def meeting_id(self) -> MeetingId:
        take = self._pool.take
        chars = take(MEETING_ID_LENGTH).translate(_TO_ALPHABET, _REJECTED)
        while len(chars) < MEETING_ID_LENGTH:
            chars += take(MEETING_ID_LENGTH - len(chars)).translate(_TO_ALPHABET, _REJECTED)
        return MeetingId(chars.decode("ascii"))

    def conference_id(self) -> str:
        # A PSTN conference id: 8 decimal digits, never starting with 0.
        return str(10_000_000 + self._pool.below(90_000_000))

    def guid(self) -> str:
        """A random (version 4) UUID in its usual text form: the version digit is "4"; the
        variant's two bits make the first digit of the fourth group 8, 9, a or b."""
        h = self._pool.take(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def etag(self) -> str:
        # Real servers use decimal numbers ("3253045138"): uniform in [1, 2**32 - 1], so four
        # bytes, the one value 2**32 - 1 drawn again.
        while True:
            value = int.from_bytes(self._pool.take(4), "big")
            if value < _ETAG_BOUND:
                return str(1 + value)

    def short_id(self) -> str:
        """An opaque 12-character id for conversations, invitations and messages."""
        return self._pool.take(6).hex()

    def token(self) -> str:
        return "cwt=" + base64.urlsafe_b64encode(self._pool.take(48)).decode().rstrip("=")


def is_meeting_id(value: str) -> bool:
    return len(value) == MEETING_ID_LENGTH and all(c in MEETING_ID_ALPHABET for c in value)
