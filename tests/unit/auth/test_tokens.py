"""Opaque bearer tokens (auth/tokens.py) over an in-memory TokenStore.

The store never suspends, so each coroutine is driven to completion synchronously by ``run``:
these stay pure unit tests without an event loop.
"""

from __future__ import annotations

import re
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest

from openucwa.auth.scopes import USER_SCOPES
from openucwa.auth.tokens import MAX_TOKEN_LENGTH, Tokens
from openucwa.domain.clock import FakeClock
from openucwa.domain.ids import RandomIds
from openucwa.domain.tokens import TokenRecord, hash_token
from tests.unit.domain.test_meetings import CountingIds

T = TypeVar("T")
LIFETIME = timedelta(hours=8)
BILL = "sip:bmauldin@contoso.com"
ALICE = "sip:alice@contoso.com"


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("the coroutine suspended; the fake store never should")


class MemoryTokenStore:
    def __init__(self) -> None:
        self.records: dict[str, TokenRecord] = {}
        self.lookups = 0

    async def add(self, record: TokenRecord) -> None:
        self.records[record.token_hash] = record

    async def get(self, token_hash: str) -> TokenRecord | None:
        self.lookups += 1
        return self.records.get(token_hash)

    async def revoke(self, token_hash: str) -> bool:
        record = self.records.get(token_hash)
        if record is None:
            return False
        self.records[token_hash] = TokenRecord(
            record.token_hash,
            record.subject_uri,
            record.kind,
            record.issued_at,
            record.expires_at,
            revoked=True,
        )
        return True

    async def revoke_for_subject(self, subject_uri: str) -> int:
        hashes = [
            h for h, r in self.records.items() if r.subject_uri == subject_uri and not r.revoked
        ]
        for token_hash in hashes:
            await self.revoke(token_hash)
        return len(hashes)

    async def purge_expired(self, now: datetime) -> int:
        expired = [h for h, r in self.records.items() if r.expires_at < now]
        for token_hash in expired:
            del self.records[token_hash]
        return len(expired)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> MemoryTokenStore:
    return MemoryTokenStore()


@pytest.fixture
def tokens(store: MemoryTokenStore, clock: FakeClock) -> Tokens:
    return Tokens(store, RandomIds(), clock, LIFETIME)


def test_issue_then_verify(tokens: Tokens, store: MemoryTokenStore, clock: FakeClock) -> None:
    token, seconds = run(tokens.issue(BILL))
    assert seconds == 8 * 3600
    caller = run(tokens.verify(token))
    assert caller is not None
    assert (caller.uri, caller.kind, caller.scopes) == (BILL, "user", USER_SCOPES)
    assert caller.token_hash == hash_token(token)
    (record,) = store.records.values()
    assert (record.issued_at, record.expires_at) == (clock.now(), clock.now() + LIFETIME)


def test_only_a_hash_is_stored(tokens: Tokens, store: MemoryTokenStore) -> None:
    token, _ = run(tokens.issue(BILL))
    (stored_hash,) = store.records
    assert re.fullmatch(r"[0-9a-f]{64}", stored_hash)
    assert token not in repr(store.records)


def test_the_token_expires_after_its_lifetime(tokens: Tokens, clock: FakeClock) -> None:
    token, _ = run(tokens.issue(BILL))
    clock.advance(LIFETIME.total_seconds() - 0.000001)
    assert run(tokens.verify(token)) is not None
    clock.advance(0.000001)
    assert run(tokens.verify(token)) is None


def test_revoke(tokens: Tokens) -> None:
    token, _ = run(tokens.issue(BILL))
    other, _ = run(tokens.issue(BILL))
    assert run(tokens.revoke(token)) is True
    assert run(tokens.verify(token)) is None
    assert run(tokens.verify(other)) is not None
    assert run(tokens.revoke("cwt=never-issued")) is False


def test_revoke_all_for_one_subject(tokens: Tokens) -> None:
    bills = [run(tokens.issue(BILL))[0] for _ in range(3)]
    alices = run(tokens.issue(ALICE))[0]
    run(tokens.revoke(bills[0]))
    assert run(tokens.revoke_all(BILL)) == 2
    assert all(run(tokens.verify(t)) is None for t in bills)
    assert run(tokens.verify(alices)) is not None


@pytest.mark.parametrize(
    "token", ["", "cwt", "Bearer cwt=abc", "CWT=abc", "psat=abc", " cwt=abc", "abc"]
)
def test_a_wrong_prefix_is_refused_without_a_lookup(
    tokens: Tokens, store: MemoryTokenStore, clock: FakeClock, token: str
) -> None:
    run(
        store.add(TokenRecord(hash_token(token), BILL, "user", clock.now(), clock.now() + LIFETIME))
    )
    assert run(tokens.verify(token)) is None
    assert store.lookups == 0


def test_an_overlong_token_is_refused_without_a_lookup(
    tokens: Tokens, store: MemoryTokenStore, clock: FakeClock
) -> None:
    longest = "cwt=" + "a" * (MAX_TOKEN_LENGTH - 4)
    for token in (longest, longest + "a"):
        record = TokenRecord(hash_token(token), BILL, "user", clock.now(), clock.now() + LIFETIME)
        run(store.add(record))
    assert run(tokens.verify(longest)) is not None
    assert run(tokens.verify(longest + "a")) is None
    assert store.lookups == 1


def test_unknown_tokens_are_refused(tokens: Tokens) -> None:
    assert run(tokens.verify("cwt=" + "A" * 64)) is None


def test_tokens_come_from_the_id_generator(store: MemoryTokenStore, clock: FakeClock) -> None:
    tokens = Tokens(store, CountingIds(), clock, LIFETIME)
    assert run(tokens.issue(BILL))[0] == "cwt=token1"


def test_random_tokens_are_long_unique_and_unpredictable() -> None:
    ids = RandomIds()
    issued = [ids.token() for _ in range(2000)]
    assert len(set(issued)) == len(issued)
    assert all(re.fullmatch(r"cwt=[A-Za-z0-9_-]{64}", t) for t in issued)
    # 64 URL-safe characters = 384 random bits: every position takes many values, and no two
    # tokens share a long run (no counter or timestamp hidden inside).
    for position in range(4, 68):
        assert len({t[position] for t in issued}) > 40
    prefixes = {t[:12] for t in issued}
    assert len(prefixes) == len(issued)
