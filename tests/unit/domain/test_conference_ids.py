"""Conference ids: a keyed permutation of sequence numbers (domain/ids.py ConferenceIds)."""

from __future__ import annotations

import re

import pytest

from openucwa.domain.ids import CONFERENCE_ID_COUNT, CONFERENCE_ID_LOW, ConferenceIds

KEY = bytes(range(32))


def test_ids_have_the_pstn_shape() -> None:
    ids = ConferenceIds(KEY)
    for n in (0, 1, 2, 12345, CONFERENCE_ID_COUNT - 1):
        assert re.fullmatch(r"[1-9]\d{7}", ids.for_number(n))


def test_distinct_numbers_give_distinct_ids() -> None:
    ids = ConferenceIds(KEY)
    minted = [ids.for_number(n) for n in range(100_000)]
    assert len(set(minted)) == len(minted)


def test_the_round_permutation_is_a_bijection() -> None:
    """Cycle walking keeps a bijection only if every step is one: invert the four Feistel
    rounds and get every input back."""
    ids = ConferenceIds(KEY)
    half = 10_000
    tables = ids._tables  # noqa: SLF001 - the structure under test

    def inverse(x: int) -> int:
        left, right = divmod(x, half)
        for table in reversed(tables):
            left, right = (right - table[left]) % half, left
        return left * half + right

    for x in range(0, 10**8, 9_973):
        assert inverse(ids._permute(x)) == x  # noqa: SLF001


def test_the_order_is_hidden_and_depends_on_the_key() -> None:
    ids, other = ConferenceIds(KEY), ConferenceIds(bytes(32))
    first = [int(ids.for_number(n)) for n in range(50)]
    assert first != sorted(first)
    assert [ids.for_number(n) for n in range(50)] != [other.for_number(n) for n in range(50)]
    assert ConferenceIds(KEY).for_number(7) == ids.for_number(7)  # deterministic per key
    assert all(int(c) >= CONFERENCE_ID_LOW for c in map(str, first))


@pytest.mark.parametrize("number", [-1, CONFERENCE_ID_COUNT])
def test_numbers_outside_the_space_are_refused(number: int) -> None:
    with pytest.raises(ValueError):
        ConferenceIds(KEY).for_number(number)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        ConferenceIds(b"short")
