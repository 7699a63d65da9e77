"""What each side of an IM conversation sees stays consistent: concurrent setIsTyping calls,
the sender's operationId (local to the sending application, spec §4.7), inviting oneself, and
the participant list against the participant events.
Spec: UCWA-MEETINGS.md §0.4.4, §2.10, §2.11, §3.7, §4.7; docs/deviations.md 15-17."""

from __future__ import annotations

import asyncio

from tests.api.im_support import connected, events, href, kinds
from tests.conftest import Helpers


async def test_concurrent_typing_calls_show_the_typist_once(helpers: Helpers) -> None:
    pair = await connected(helpers)
    typing = href(pair.bill.messaging or {}, "setIsTyping")
    answers = await asyncio.gather(
        *(helpers.client.post(typing, headers=pair.bill.who.headers) for _ in range(8))
    )
    assert [a.status_code for a in answers] == [204] * 8
    read = await pair.alice.channel.expect(("participant", "added"))
    read += await pair.alice.channel.poll()
    added = [e for e in events(read, "participant", "added") if e.get("in")]
    assert len(added) == 1, kinds(read)
    assert added[0]["in"]["rel"] == "typingParticipants"
