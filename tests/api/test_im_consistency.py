"""What each side of an IM conversation sees stays consistent: concurrent setIsTyping calls,
the sender's operationId (local to the sending application, spec §4.7), inviting oneself, and
the participant list against the participant events.
Spec: UCWA-MEETINGS.md §0.4.4, §2.10, §2.11, §3.7, §4.7; docs/deviations.md 15-17."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.im_support import (
    BILL,
    Channel,
    accept,
    assert_error,
    connected,
    events,
    href,
    inner,
    invitation_body,
    invite,
    kinds,
    make_available,
    one,
    received,
    send,
    start,
)
from tests.conftest import Helpers, Session


async def get(helpers: Helpers, who: Session, url: str) -> dict[str, Any]:
    response = await helpers.client.get(url, headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


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


async def test_the_senders_operation_id_is_not_shown_to_the_receiver(helpers: Helpers) -> None:
    pair = await invite(helpers, invitation_body(op="op-bill"))
    assert pair.bill.invitation["operationId"] == "op-bill"
    assert pair.alice.invitation.get("operationId") is None
    incoming = await get(helpers, pair.alice.who, href(pair.alice.invitation))
    assert incoming.get("operationId") is None
    bill_read, alice_read = await accept(helpers, pair)
    first = {
        who: inner(one(read, "message", "completed"))
        for who, read in (("bill", bill_read), ("alice", alice_read))
    }
    assert first["bill"]["direction"] == "Outgoing" and first["bill"]["operationId"] == "op-bill"
    assert first["alice"]["direction"] == "Incoming" and first["alice"].get("operationId") is None
    sent = await send(helpers, pair.bill, "Hello", query="?OperationContext=abc")
    assert sent.status_code == 201, sent.text
    mine = inner(one(await pair.bill.channel.expect(("message", "completed")), "message"))
    assert mine["operationId"] == "abc"
    (theirs,) = await received(pair.alice)
    assert theirs["direction"] == "Incoming" and theirs.get("operationId") is None
    assert (await get(helpers, pair.alice.who, href(theirs))).get("operationId") is None
    assert (await get(helpers, pair.bill.who, sent.headers["location"]))["operationId"] == "abc"


@pytest.mark.parametrize("to", [BILL, BILL.upper().replace("SIP:", "sip:"), "SIP:" + BILL[4:]])
async def test_inviting_oneself_is_refused(helpers: Helpers, to: str) -> None:
    bill = await helpers.session("bill")
    other_device = await helpers.session("bill", "endpoint-2")
    await make_available(helpers, other_device)
    channel = Channel(helpers, other_device)
    await channel.expect(("communication", "updated"))  # its own makeMeAvailable
    response = await start(helpers, bill, invitation_body(to=to))
    assert_error(response, 400, "BadRequest", "ParameterValidationFailure")
    assert "to" in response.json().get("parameters", {}), response.json()
    await channel.quiet()
    listing = bill.app["_embedded"]["communication"]["_links"]["conversations"]["href"]
    assert (await get(helpers, bill, listing))["_links"].get("conversation", []) == []


def participant_uris(listing: dict[str, Any]) -> list[str]:
    found = listing["_links"].get("participant", [])
    found = found if isinstance(found, list) else [found]
    return sorted(str(link["href"]).rsplit("/", 1)[-1] for link in found)


async def roster(helpers: Helpers, who: Session, conversation: str) -> tuple[int, list[str]]:
    conv = await get(helpers, who, conversation)
    listing = await get(helpers, who, href(conv, "participants"))
    return int(conv["participantCount"]), participant_uris(listing)


async def test_someone_who_does_not_exist_is_not_a_participant(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    response = await start(helpers, bill, invitation_body(to="sip:nobody@contoso.com"))
    assert response.status_code == 201, response.text
    read = await channel.expect(("messagingInvitation", "completed"))
    done = one(read, "messagingInvitation", "completed")
    assert done["reason"]["subcode"] == "DestinationNotFound"
    conversation = href(inner(done), "conversation")
    assert await roster(helpers, bill, conversation) == (1, ["bmauldin@contoso.com"])
    nobody = await helpers.client.get(
        conversation + "/participants/nobody@contoso.com", headers=bill.headers
    )
    assert_error(nobody, 404, "NotFound")


async def test_an_invitee_is_a_participant_once_she_accepts(helpers: Helpers) -> None:
    pair = await invite(helpers)
    added = one(pair.bill_invited, "conversation", "added")
    assert inner(added)["participantCount"] == 1
    bill, alice = pair.bill, pair.alice
    assert await roster(helpers, bill.who, bill.conversation) == (1, ["bmauldin@contoso.com"])
    pending = await helpers.client.get(
        bill.conversation + "/participants/alice@contoso.com", headers=bill.who.headers
    )
    assert_error(pending, 404, "NotFound")
    # alice's own conversation has shown her (localParticipant) and bill from the start
    both = (2, ["alice@contoso.com", "bmauldin@contoso.com"])
    assert inner(one(pair.alice_invited, "conversation", "added"))["participantCount"] == 2
    assert await roster(helpers, alice.who, alice.conversation) == both
    bill_read, _ = await accept(helpers, pair)
    assert one(bill_read, "participant", "added")["link"]["href"].endswith("/alice@contoso.com")
    assert await roster(helpers, bill.who, bill.conversation) == both
    assert await roster(helpers, alice.who, alice.conversation) == both
