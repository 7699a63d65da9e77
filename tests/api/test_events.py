"""What a client sees on its event channel when things happen (spec §2.4.3, §3.1 step 7, §2.7.1,
§2.11; CLIENT-COMPAT "Event channel", "Messaging"; captures/lync2013-im-events): the P-GET is
parked first, then the action, then the poll must come back with the events."""

from __future__ import annotations

import asyncio
import re
import time

from tests.api.events_support import (
    CAP,
    QUICK,
    Batch,
    Channel,
    events,
    flat,
    make_available,
    one,
    start_messaging,
    timed,
)
from tests.conftest import Helpers, Session

DATE = re.compile(r"^/Date\(\d{13}\)/$")


async def test_make_me_available_events_are_medium_and_complete(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    start = time.monotonic()
    parked = await channel.park()
    await make_available(helpers, bill)
    body = await parked
    assert time.monotonic() - start > CAP - 0.05  # Medium: held until the cap, not at once
    assert flat(body) == [
        ("communication", "communication", "updated"),
        ("me", "me", "updated"),
        ("me", "presence", "added"),
        ("me", "note", "added"),
        ("me", "location", "added"),
    ]
    assert [s["rel"] for s in body["sender"]] == ["communication", "me"]  # communication first
    app = bill.app_href
    assert body["sender"][0]["href"] == f"{app}/communication"
    assert body["sender"][1]["href"] == f"{app}/me"
    updated = one(body, "communication")
    assert updated["link"]["href"] == f"{app}/communication"
    comm = updated["_embedded"]["communication"]
    assert comm["supportedModalities"] == ["Messaging"]
    assert comm["_links"]["self"]["href"] == f"{app}/communication"
    assert "startMessaging" in comm["_links"]
    current = await helpers.client.get(f"{app}/communication", headers=bill.headers)
    assert comm["etag"] == current.headers["etag"].strip('"')
    for rel in ("presence", "note", "location"):
        assert one(body, rel)["link"]["href"] == f"{app}/me/{rel}"
    assert one(body, "me")["link"]["href"] == f"{app}/me"


async def test_communication_put_needs_if_match_then_publishes_one_update(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    href = bill.link("communication", "self")
    got = await helpers.client.get(href, headers=bill.headers)
    assert got.status_code == 200, got.text
    etag = got.headers["etag"]
    change = {**got.json(), "supportedModalities": ["Messaging"]}
    channel = Channel(helpers, bill)
    parked = await channel.park()
    missing = await helpers.client.put(href, json=change, headers=bill.headers)
    assert missing.status_code == 428, missing.text
    stale = await helpers.client.put(href, json=change, headers={**bill.headers, "If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    done = await helpers.client.put(href, json=change, headers={**bill.headers, "If-Match": etag})
    assert done.status_code == 200, done.text
    assert done.headers["etag"] != etag
    body = await parked
    assert flat(body) == [("communication", "communication", "updated")]  # refused PUTs: none
    comm = one(body, "communication")["_embedded"]["communication"]
    assert comm["supportedModalities"] == ["Messaging"]
    assert comm["etag"] == done.headers["etag"].strip('"')


def conversation_href(body: Batch) -> str:
    return str(one(body, "conversation")["link"]["href"])


async def test_messaging_invitation_releases_queued_medium_events_in_order(
    helpers: Helpers,
) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await make_available(helpers, alice)  # Medium events queued for alice
    a_chan, b_chan = Channel(helpers, alice), Channel(helpers, bill)
    a_parked, b_parked = await a_chan.park(), await b_chan.park()
    started = await start_messaging(helpers, bill, "sip:alice@contoso.com")
    a_body, a_wait = await timed(a_parked)
    b_body, b_wait = await timed(b_parked)
    assert a_wait < QUICK and b_wait < QUICK  # High releases at once ...
    assert flat(a_body) == [  # ... and ships everything queued, in log order
        ("communication", "communication", "updated"),
        ("me", "me", "updated"),
        ("me", "presence", "added"),
        ("me", "note", "added"),
        ("me", "location", "added"),
        ("communication", "messagingInvitation", "started"),
        ("communication", "conversation", "added"),
        ("conversation", "localParticipant", "added"),
        ("conversation", "participant", "added"),
    ]
    assert [s["rel"] for s in a_body["sender"]] == [
        "communication",
        "me",
        "communication",
        "conversation",
    ]
    assert flat(b_body) == [
        ("communication", "messagingInvitation", "started"),
        ("communication", "conversation", "added"),
        ("conversation", "localParticipant", "added"),
        ("conversation", "messaging", "updated"),
    ]
    me = one(b_body, "localParticipant")  # as in the SendAnIM trace: the inviter's own
    local = me["_embedded"]["localParticipant"]
    assert (local["uri"], local["name"]) == ("sip:bmauldin@contoso.com", "Bill Mauldin")
    assert "me" in local["_links"] and me["link"]["href"] == local["_links"]["self"]["href"]
    outgoing = one(b_body, "messagingInvitation")
    assert outgoing["link"]["href"] == started.headers["location"]
    assert outgoing["_embedded"]["messagingInvitation"]["direction"] == "Outgoing"
    incoming = one(a_body, "messagingInvitation")["_embedded"]["messagingInvitation"]
    assert incoming["direction"] == "Incoming"
    assert incoming["state"] == "Connecting"
    assert "operationId" not in incoming  # the inviter's own (spec §4.7)
    assert incoming["_embedded"]["from"]["name"] == "Bill Mauldin"
    assert incoming["_embedded"]["from"]["uri"] == "sip:bmauldin@contoso.com"
    assert incoming["_links"]["message"]["href"] == "data:text/plain;charset=utf-8,Hi+Alice"
    assert incoming["_links"]["accept"]["href"].startswith(alice.app_href)
    conv = conversation_href(a_body)
    assert conv.startswith(alice.app_href)
    added = one(a_body, "conversation", "added")["_embedded"]["conversation"]
    assert added["state"] in ("Incoming", "Connecting")
    local = one(a_body, "localParticipant")["link"]
    assert local == {
        "rel": "localParticipant",
        "href": f"{conv}/participants/alice@contoso.com",
        "title": "Alice Ciccu",
    }
    other = one(a_body, "participant")["link"]
    assert other["href"] == f"{conv}/participants/bmauldin@contoso.com"
    assert other["title"] == "Bill Mauldin"
    for body, conv_href in ((a_body, conv), (b_body, conversation_href(b_body))):
        for sender in body["sender"]:
            if sender["rel"] == "conversation":  # the conversation owns its members' events
                assert sender["href"] == conv_href
                assert all(e["link"]["href"].startswith(conv_href) for e in sender["events"])


async def accepted(helpers: Helpers) -> tuple[Session, Session, Channel, Channel, Batch, Batch]:
    """Bill invites Alice ("Hi Alice"), both read that batch; Alice accepts while both P-GETs
    are parked. Returns both sessions, channels and the accept batches."""
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await make_available(helpers, alice)
    a_chan, b_chan = Channel(helpers, alice), Channel(helpers, bill)
    await start_messaging(helpers, bill, "sip:alice@contoso.com")
    invited, _ = await asyncio.gather(a_chan.poll(), b_chan.poll())
    invitation = one(invited, "messagingInvitation")["_embedded"]["messagingInvitation"]
    a_parked, b_parked = await a_chan.park(), await b_chan.park()
    answer = await helpers.client.post(
        invitation["_links"]["accept"]["href"], headers=alice.headers
    )
    assert answer.status_code == 204, answer.text
    (a_body, a_wait), (b_body, b_wait) = await timed(a_parked), await timed(b_parked)
    assert a_wait < QUICK and b_wait < QUICK
    return bill, alice, a_chan, b_chan, a_body, b_body


async def test_accept_events_for_both_sides(helpers: Helpers) -> None:
    _, _, _, _, a_body, b_body = await accepted(helpers)
    for body, direction in ((a_body, "Incoming"), (b_body, "Outgoing")):
        kinds = flat(body)
        for expected in (
            ("communication", "conversation", "updated"),
            ("communication", "messagingInvitation", "completed"),
            ("conversation", "messaging", "updated"),
            ("conversation", "message", "completed"),
        ):
            assert expected in kinds, (direction, kinds)
        done = one(body, "messagingInvitation", "completed")
        assert done["status"] == "Success"
        assert done["_embedded"]["messagingInvitation"]["state"] == "Connected"
        conv = one(body, "conversation", "updated")["_embedded"]["conversation"]
        assert conv["state"] == "Connected"
        messaging = one(body, "messaging")["_embedded"]["messaging"]
        assert messaging["state"] == "Connected"
        assert {"sendMessage", "setIsTyping", "stopMessaging"} <= set(messaging["_links"])
        pm = events(body, "participantMessaging", "added")
        assert sorted(e["in"]["rel"] for e in pm) == ["localParticipant", "participant"]
        mine = next(e for e in pm if e["in"]["rel"] == "localParticipant")
        assert mine["link"]["href"] == mine["in"]["href"] + "/messaging"
        embedded = mine["_embedded"]["participantMessaging"]
        assert embedded["_links"]["participant"]["href"] == mine["in"]["href"]
        message = one(body, "message")
        assert message["status"] == "Success"
        shown = message["_embedded"]["message"]
        assert shown["direction"] == direction
        assert DATE.match(shown["timeStamp"]), shown["timeStamp"]
        assert shown["_links"]["self"]["href"] == message["link"]["href"]
        if direction == "Incoming":
            assert shown["_links"]["plainMessage"]["href"].endswith(",Hi+Alice")
            assert shown["_links"]["participant"]["title"] == "Bill Mauldin"
            assert shown["_links"]["contact"]["href"].endswith("/people/bmauldin@contoso.com")
        # the message completes after the invitation (log order)
        assert kinds.index(("conversation", "message", "completed")) > kinds.index(
            ("communication", "messagingInvitation", "completed")
        )
    joined = one(b_body, "participant", "added")["link"]
    assert joined["title"] == "Alice Ciccu"
    assert joined["href"].endswith("/participants/alice@contoso.com")


def messaging_links(body: Batch) -> dict[str, str]:
    found = one(body, "messaging")["_embedded"]["messaging"]["_links"]
    return {rel: str(link["href"]) for rel, link in found.items()}


async def test_typing_message_and_stop(helpers: Helpers) -> None:
    bill, alice, a_chan, b_chan, a_accept, b_accept = await accepted(helpers)
    b_links = messaging_links(b_accept)
    conv = conversation_href(a_accept)
    a_parked = await a_chan.park()
    typing = await helpers.client.post(b_links["setIsTyping"], headers=bill.headers)
    assert typing.status_code == 204, typing.text
    body, waited = await timed(a_parked)
    assert waited < QUICK
    assert flat(body) == [("conversation", "participant", "added")]
    event = body["sender"][0]["events"][0]
    assert body["sender"][0]["href"] == conv
    assert event["link"]["href"] == f"{conv}/participants/bmauldin@contoso.com"
    assert event["link"]["title"] == "Bill Mauldin"
    assert event["in"] == {
        "rel": "typingParticipants",
        "href": f"{conv}/messaging/typingParticipants",
    }

    a_parked = await a_chan.park()
    sent = await helpers.client.post(
        b_links["sendMessage"],
        content="second one",
        headers={**bill.headers, "Content-Type": "text/plain; charset=UTF-8"},
    )
    assert sent.status_code == 201, sent.text
    body = await a_parked
    assert flat(body) == [
        ("conversation", "participant", "deleted"),
        ("conversation", "message", "completed"),
    ]
    assert body["sender"][0]["events"][0]["in"]["rel"] == "typingParticipants"
    text = one(body, "message")["_embedded"]["message"]["_links"]["plainMessage"]["href"]
    assert text == "data:text/plain;charset=utf-8,second+one"
    # The typist is never told about itself: Bill only sees his own message, Outgoing.
    b_body = await b_chan.poll()
    assert ("conversation", "participant", "added") not in flat(b_body)
    assert ("conversation", "participant", "deleted") not in flat(b_body)
    mine = one(b_body, "message")
    assert mine["_embedded"]["message"]["direction"] == "Outgoing"
    assert mine["link"]["href"] == sent.headers["location"]

    a_parked, b_parked = await a_chan.park(), await b_chan.park()
    stop = await helpers.client.post(b_links["stopMessaging"], headers=bill.headers)
    assert stop.status_code == 204, stop.text
    (a_body, a_wait), (b_body, b_wait) = await timed(a_parked), await timed(b_parked)
    assert a_wait < QUICK and b_wait < QUICK
    # CLIENT-COMPAT: the communication sender first (clients that read only sender[0])
    deleted = ("communication", "conversation", "deleted")
    pm = ("conversation", "participantMessaging", "deleted")
    local = ("conversation", "localParticipant", "deleted")
    ended = [pm, ("conversation", "messaging", "updated"), local]
    assert flat(b_body) == [deleted, *ended]
    # spec §3.8: Bill's participantMessaging and participant go, then hers
    assert flat(a_body) == [deleted, pm, ("conversation", "participant", "deleted"), *ended]
    for body in (a_body, b_body):
        assert [s["rel"] for s in body["sender"]] == ["communication", "conversation"]
    # spec §2.11.5: the one who stopped sees it in localParticipant, the others in participant
    gone = events(a_body, "participantMessaging", "deleted")
    assert [(e["in"]["rel"], e["in"].get("title")) for e in gone] == [
        ("participant", "Bill Mauldin"),
        ("localParticipant", "Alice Ciccu"),
    ]
    assert gone[0]["link"]["href"] == f"{conv}/participants/bmauldin@contoso.com/messaging"
    assert one(b_body, "participantMessaging")["in"]["rel"] == "localParticipant"
    left = one(a_body, "participant", "deleted")["link"]
    assert left == {
        "rel": "participant",
        "href": f"{conv}/participants/bmauldin@contoso.com",
        "title": "Bill Mauldin",
    }
    for body, href in ((a_body, conv), (b_body, conversation_href(b_accept))):
        me = one(body, "localParticipant", "deleted")
        assert me["link"]["rel"] == "localParticipant" and me["link"]["href"].startswith(href)
        assert "_embedded" not in me
    for body, href in ((a_body, conv), (b_body, conversation_href(b_accept))):
        assert one(body, "messaging")["_embedded"]["messaging"]["state"] == "Disconnected"
        deleted = one(body, "conversation", "deleted")
        assert deleted["link"]["href"] == href
        assert deleted["_embedded"]["conversation"]["state"] == "Disconnected"
    assert one(a_body, "conversation", "deleted")["reason"]["code"] == "Informational"


async def test_deleting_an_application_ends_its_conversation_communication_first(
    helpers: Helpers,
) -> None:
    bill, alice, a_chan, _, _, _ = await accepted(helpers)
    a_parked = await a_chan.park()
    deleted = await helpers.client.delete(bill.app_href, headers=bill.headers)
    assert deleted.status_code == 204, deleted.text
    body, waited = await timed(a_parked)
    assert waited < QUICK
    assert [s["rel"] for s in body["sender"]] == ["communication", "conversation"]
    assert flat(body)[0] == ("communication", "conversation", "deleted")
    ended = one(body, "conversation", "deleted")
    assert ended["reason"]["subcode"] == "Ended"
    assert ended["_embedded"]["conversation"]["state"] == "Disconnected"
    assert one(body, "messaging")["_embedded"]["messaging"]["state"] == "Disconnected"
