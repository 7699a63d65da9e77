"""Identifiers: their shapes live here; where randomness comes from is injected (IdGenerator)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import string
import struct
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


# -- conference ids ------------------------------------------------------------------------------

CONFERENCE_ID_LOW = 10_000_000  # a PSTN conference id: 8 decimal digits, never a leading 0
CONFERENCE_ID_COUNT = 90_000_000  # how many there are
_HALF = 10_000  # the Feistel network works on two 4-digit halves
_ROUNDS = 4


class ConferenceIds:
    """Conference ids that are unique by construction and still look random: the n-th id
    (n from a durable sequence) is a keyed permutation of n. Random ids would need a unique
    index to catch collisions, and every new meeting then dirties a random page of it
    (measured: ~15 us of WAL writing and fsync per meeting); a sequence needs none.

    The permutation is a four-round Feistel network over 8 decimal digits whose round
    functions are tables drawn from the key (SHAKE-256), cycle-walked into
    [10,000,000, 99,999,999]. It hides the order from a casual reader; it is not a secret
    worth more than that (a conference id is not a credential here)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the conference id key needs at least 16 bytes")
        stream = hashlib.shake_256(b"openucwa conference ids\0" + key).digest(4 * _HALF * _ROUNDS)
        words = struct.unpack(f">{_HALF * _ROUNDS}I", stream)  # big-endian: the same everywhere
        self._tables = tuple(
            tuple(w % _HALF for w in words[r * _HALF : (r + 1) * _HALF]) for r in range(_ROUNDS)
        )

    def _permute(self, x: int) -> int:
        left, right = divmod(x, _HALF)
        for table in self._tables:
            left, right = right, (left + table[right]) % _HALF
        return left * _HALF + right

    def for_number(self, number: int) -> str:
        """The conference id of sequence number ``number`` (0 <= number < 90,000,000)."""
        if not 0 <= number < CONFERENCE_ID_COUNT:
            raise ValueError(f"no conference id for number {number}")
        x = self._permute(CONFERENCE_ID_LOW + number)
        while x < CONFERENCE_ID_LOW:  # cycle walking: stay inside the 8-digit ids
            x = self._permute(x)
        return str(x)
