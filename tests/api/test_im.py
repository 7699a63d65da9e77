"""Instant messaging between two users in JSON, following links only: startMessaging shapes,
invitations on available applications, accept, messages both ways (plain, HTML, replies to a
message's href), reads of every resource, decline, cancel, stopMessaging and leaving.
Spec: UCWA-MEETINGS.md §2.7, §2.9.1, §2.10, §2.11, §3.7, §3.8, §4.5, E3, E16, E19, E41, E42,
E48; CLIENT-COMPAT "Messaging" and "Discovery and URL layout"."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote_plus

import pytest

from openucwa.bootstrap import Built
from openucwa.domain.users import User
from tests.api.im_support import (
    ALICE,
    BILL,
    DATE,
    Channel,
    accept,
    connected,
    events,
    href,
    inner,
    invitation_body,
    invite,
    kinds,
    make_available,
    one,
    plain,
    received,
    send,
    start,
)
from tests.conftest import CHEAP_PASSWORDS, USERS, Helpers

TEXT = "Hello Alice, ça va?"


async def get(helpers: Helpers, who: Any, url: str) -> dict[str, Any]:
    response = await helpers.client.get(url, headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return dict(response.json())


async def test_start_messaging_answers_201_and_both_sides_see_the_invitation(
    helpers: Helpers,
) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await make_available(helpers, alice)
    b_chan, a_chan = Channel(helpers, bill), Channel(helpers, alice)
    response = await start(
        helpers,
        bill,
        {
            "importance": "Urgent",
            "sessionContext": "c2a4a4e5-3f13-4d5e-9a6b-01f1b1a2d3e4",
            "subject": "Lunch?",
            "telemetryId": None,
            "to": ALICE,
            "operationId": "op-1",
        },
    )
    assert response.status_code == 201, response.text
    assert response.content == b""
    location = response.headers["location"]
    assert location.startswith(bill.app_href + "/communication/messagingInvitations/")

    wanted = (("messagingInvitation", "started"), ("conversation", "added"))
    b_read = await b_chan.expect(*wanted)
    outgoing = inner(one(b_read, "messagingInvitation", "started"))
    assert href(outgoing) == location
    assert outgoing["direction"] == "Outgoing"
    assert outgoing["state"] == "Connecting"
    assert (outgoing["operationId"], outgoing["to"]) == ("op-1", ALICE)
    assert (outgoing["subject"], outgoing["importance"]) == ("Lunch?", "Urgent")
    assert "cancel" in outgoing["_links"] and "accept" not in outgoing["_links"]
    assert inner(one(b_read, "conversation", "added"))["state"] == "Connecting"

    a_read = await a_chan.expect(*wanted)
    order = kinds(a_read)
    started = order.index(("communication", "messagingInvitation", "started"))
    assert order[started + 1] == ("communication", "conversation", "added")  # invitation first
    incoming = inner(one(a_read, "messagingInvitation", "started"))
    assert incoming["direction"] == "Incoming"
    assert incoming["state"] == "Connecting"
    assert (incoming["subject"], incoming["importance"]) == ("Lunch?", "Urgent")
    assert "operationId" not in incoming  # bill's own correlation id (spec §4.7)
    assert href(incoming).startswith(alice.app_href + "/communication/messagingInvitations/")
    assert {"accept", "decline", "conversation", "messaging"} <= set(incoming["_links"])
    assert "cancel" not in incoming["_links"] and "message" not in incoming["_links"]
    sender = incoming["_embedded"]["from"]
    assert (sender["name"], sender["uri"]) == ("Bill Mauldin", BILL)
    added = one(a_read, "conversation", "added")
    assert added["link"]["href"] == href(incoming, "conversation")
    assert inner(added)["state"] == "Incoming"
    assert inner(added)["threadId"] == incoming["threadId"] == outgoing["threadId"]

    shown = await get(helpers, bill, location)
    assert shown["direction"] == "Outgoing" and shown["state"] == "Connecting"
    mine = await get(helpers, alice, href(incoming))
    assert mine["direction"] == "Incoming" and href(mine, "accept") == href(incoming, "accept")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "uri",
    [
        "data:text/plain;charset=utf8,Hello%20Alice%2C%20%C3%A7a%20va%3F",
        "data:text/plain;charset=utf-8,Hello+Alice%2C+%C3%A7a+va%3F",
        f"data:text/plain;base64,{_b64(TEXT)}",
        f"data:text/plain;charset=utf-8;base64,{_b64(TEXT)}",
    ],
)
async def test_the_first_message_travels_as_a_data_uri(helpers: Helpers, uri: str) -> None:
    pair = await invite(
        helpers, {"operationId": "op-7", "to": ALICE, "_links": {"message": {"href": uri}}}
    )
    assert href(pair.alice.invitation, "message") == plain(TEXT)
    assert plain(TEXT) == "data:text/plain;charset=utf-8,Hello+Alice%2C+%C3%A7a+va%3F"
    _, a_read = await accept(helpers, pair)
    message = inner(one(a_read, "message", "completed"))
    assert href(message, "plainMessage") == plain(TEXT)


async def test_only_available_applications_are_invited(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    phone = await helpers.session("alice", "phone")
    idle = await helpers.session("alice", "idle")  # never calls makeMeAvailable
    laptop = await helpers.session("alice", "laptop")
    for app in (phone, laptop):
        await make_available(helpers, app)
    channels = {app.app_href: Channel(helpers, app) for app in (phone, idle, laptop)}
    assert (await start(helpers, bill, invitation_body())).status_code == 201
    invitations = {}
    for app in (phone, laptop):
        read = await channels[app.app_href].expect(
            ("messagingInvitation", "started"), ("conversation", "added")
        )
        invitations[app.app_href] = inner(one(read, "messagingInvitation", "started"))
        assert inner(one(read, "conversation", "added"))["state"] == "Incoming"
    await channels[idle.app_href].quiet()

    answer = await helpers.client.post(
        href(invitations[laptop.app_href], "accept"), headers=laptop.headers
    )
    assert answer.status_code == 204
    read = await channels[phone.app_href].expect(
        ("messagingInvitation", "completed"), ("conversation", "deleted")
    )
    assert one(read, "messagingInvitation", "completed")["status"] == "Failure"
    read = await channels[laptop.app_href].expect(("messagingInvitation", "completed"))
    assert one(read, "messagingInvitation", "completed")["status"] == "Success"
    await channels[idle.app_href].quiet()


async def test_the_other_device_gets_no_message_of_the_conversation_it_lost(
    helpers: Helpers,
) -> None:
    """Accepting on one device ends the invitation on the user's other devices (deviation
    16): they are told it failed and that their conversation was deleted, and then nothing
    of it, not even the first message that the accept delivers."""
    bill = await helpers.session("bill")
    phone, laptop = (
        await helpers.session("alice", "phone"),
        await helpers.session("alice", "laptop"),
    )
    for app in (phone, laptop):
        await make_available(helpers, app)
    b_chan, p_chan, l_chan = (Channel(helpers, s) for s in (bill, phone, laptop))
    body = invitation_body(text="Secret first message")
    assert (await start(helpers, bill, body)).status_code == 201
    invited = ("messagingInvitation", "started")
    await b_chan.expect(invited)
    await p_chan.expect(invited)
    read = await l_chan.expect(invited)
    answer = await helpers.client.post(
        href(inner(one(read, "messagingInvitation", "started")), "accept"), headers=laptop.headers
    )
    assert answer.status_code == 204, answer.text
    accepted = await l_chan.expect(("message", "completed"))
    assert inner(one(accepted, "message"))["direction"] == "Incoming"
    lost = await p_chan.expect(("messagingInvitation", "completed"), ("conversation", "deleted"))
    assert one(lost, "messagingInvitation", "completed")["status"] == "Failure"
    assert events(lost, "message") == [], kinds(lost)
    b_read = await b_chan.expect(("messaging", "updated"), ("message", "completed"))
    sent = await helpers.client.post(
        href(inner(one(b_read, "messaging", "updated")), "sendMessage"),
        content=b"second",
        headers={**bill.headers, "Content-Type": "text/plain"},
    )
    assert sent.status_code == 201, sent.text
    assert events(await l_chan.poll(), "message", "completed")  # the device that accepted
    await p_chan.quiet()  # the other: nothing


async def test_accept_connects_both_sides_and_delivers_the_first_message(
    helpers: Helpers,
) -> None:
    pair = await invite(helpers)
    assert href(pair.alice.invitation, "message") == plain("Hi Alice")
    b_read, a_read = await accept(helpers, pair)
    for side, read in ((pair.bill, b_read), (pair.alice, a_read)):
        conversation = inner(one(read, "conversation", "updated"))
        assert conversation["state"] == "Connected"
        assert conversation["activeModalities"] == ["Messaging"]
        messaging = side.messaging
        assert messaging is not None and messaging["state"] == "Connected"
        for rel in ("sendMessage", "stopMessaging", "setIsTyping", "typingParticipants"):
            assert href(messaging, rel).startswith(side.conversation + "/messaging"), rel
        assert href(messaging, "sendMessage") == href(messaging) + "/messages"
        done = one(read, "messagingInvitation", "completed")
        assert done["status"] == "Success"
        assert side.invitation["state"] == "Connected"
        assert not {"accept", "decline", "cancel"} & set(side.invitation["_links"])

    event = one(a_read, "message", "completed")
    assert event["status"] == "Success"
    message = inner(event)
    assert message["direction"] == "Incoming"
    assert href(message) == event["link"]["href"]
    assert href(message).startswith(pair.alice.conversation + "/messaging/messages/")
    assert href(message, "plainMessage") == "data:text/plain;charset=utf-8,Hi+Alice"
    assert DATE.match(message["timeStamp"]), message["timeStamp"]
    participant = message["_links"]["participant"]
    assert participant["title"] == "Bill Mauldin"
    assert participant["href"] == pair.alice.conversation + "/participants/bmauldin@contoso.com"
    assert href(message, "contact") == pair.alice.who.app_href + "/people/bmauldin@contoso.com"
    assert href(message, "messaging") == pair.alice.conversation + "/messaging"

    mine = inner(one(b_read, "message", "completed"))
    assert mine["direction"] == "Outgoing"
    assert mine["operationId"] == "op-1"
    assert href(mine, "plainMessage") == plain("Hi Alice")


@pytest.mark.parametrize(
    ("content_type", "query", "operation_id"),
    [
        ("text/plain", "", None),
        ("text/plain; charset=UTF-8", "?OperationContext=6b6ce55c-0e38-4c1c-9d5a-2f1b", None),
        ("text/plain;charset=utf-8", "?SessionContext=sess-2", "sess-2"),
        ("text/plain", "?operationId=op-3", "op-3"),
    ],
)
async def test_send_message(
    helpers: Helpers, content_type: str, query: str, operation_id: str | None
) -> None:
    if query.startswith("?OperationContext="):
        operation_id = query.split("=", 1)[1]
    pair = await connected(helpers)
    text = "Hé Bill,\nsee 1+1 & <you>"
    response = await send(helpers, pair.alice, text, content_type, query)
    assert response.status_code == 201, response.text
    assert response.content == b""
    location = response.headers["location"]
    assert location.startswith(pair.alice.conversation + "/messaging/messages/")

    mine = await received(pair.alice)
    assert len(mine) == 1 and mine[0]["direction"] == "Outgoing"
    assert href(mine[0]) == location
    assert mine[0].get("operationId") == operation_id
    theirs = await received(pair.bill)
    assert len(theirs) == 1 and theirs[0]["direction"] == "Incoming"
    assert href(theirs[0], "plainMessage") == plain(text)
    assert href(theirs[0], "plainMessage") == (
        "data:text/plain;charset=utf-8,H%C3%A9+Bill%2C%0d%0asee+1%2B1+%26+%3Cyou%3E"
    )
    assert theirs[0]["_links"]["participant"]["title"] == "Alice Ciccu"
    assert href(theirs[0], "contact").endswith("/people/alice@contoso.com")

    shown = await get(helpers, pair.alice.who, location)
    assert shown["direction"] == "Outgoing"
    assert href(shown, "plainMessage") == plain(text)


async def test_html_message(helpers: Helpers) -> None:
    pair = await connected(helpers)
    response = await send(helpers, pair.alice, "<b>Hi</b> Bill", "text/html; charset=utf-8")
    assert response.status_code == 201, response.text
    (theirs,) = await received(pair.bill)
    assert href(theirs, "htmlMessage") == "data:text/html;charset=utf-8,%3Cb%3EHi%3C%2Fb%3E+Bill"
    (mine,) = await received(pair.alice)
    assert href(mine, "htmlMessage") == href(theirs, "htmlMessage")


async def test_reply_by_posting_to_the_incoming_message(helpers: Helpers) -> None:
    pair = await invite(helpers)
    _, a_read = await accept(helpers, pair)
    incoming = inner(one(a_read, "message", "completed"))
    response = await send(helpers, pair.alice, "Hi Bill", to=href(incoming))
    assert response.status_code == 201, response.text
    (theirs,) = await received(pair.bill)
    assert (theirs["direction"], href(theirs, "plainMessage")) == ("Incoming", plain("Hi Bill"))
    # ... and to {messaging}/messages, the path some clients build themselves
    assert pair.alice.messaging is not None
    response = await send(helpers, pair.alice, "Again", to=href(pair.alice.messaging) + "/messages")
    assert response.status_code == 201, response.text
    (theirs,) = await received(pair.bill)
    assert href(theirs, "plainMessage") == plain("Again")


async def test_reading_every_resource_of_the_conversation(helpers: Helpers) -> None:
    pair = await connected(helpers)
    alice, side = pair.alice.who, pair.alice
    assert (await send(helpers, pair.bill, "Second")).status_code == 201
    await received(pair.alice)

    conversation = await get(helpers, alice, side.conversation)
    assert conversation["state"] == "Connected"
    assert conversation["threadId"] == side.invitation["threadId"]
    assert conversation["activeModalities"] == ["Messaging"]
    assert conversation["participantCount"] == 2
    assert href(conversation) == side.conversation
    assert conversation["_links"]["localParticipant"]["title"] == "Alice Ciccu"

    listing = alice.app["_embedded"]["communication"]["_links"]["conversations"]["href"]
    assert listing.endswith("?filter=active")
    active = await get(helpers, alice, listing)
    assert isinstance(active["_links"]["conversation"], list)
    assert [link["href"] for link in active["_links"]["conversation"]] == [side.conversation]

    participants = await get(helpers, alice, href(conversation, "participants"))
    links = participants["_links"]["participant"]
    assert isinstance(links, list)
    assert sorted(link["title"] for link in links) == ["Alice Ciccu", "Bill Mauldin"]
    bill_link = next(link["href"] for link in links if link["title"] == "Bill Mauldin")
    other = await get(helpers, alice, bill_link)
    assert (other["name"], other["uri"]) == ("Bill Mauldin", BILL)
    assert href(other, "contact").endswith("/people/bmauldin@contoso.com")
    pm = await get(helpers, alice, href(other, "participantMessaging"))
    assert pm["_links"]["participant"] == {"href": bill_link, "title": "Bill Mauldin"}
    me = await get(helpers, alice, href(conversation, "localParticipant"))
    assert (me["name"], me["uri"]) == ("Alice Ciccu", ALICE)
    assert "me" in me["_links"]

    messaging = await get(helpers, alice, href(conversation, "messaging"))
    assert messaging["state"] == "Connected"
    assert {"sendMessage", "stopMessaging", "setIsTyping", "typingParticipants"} <= set(
        messaging["_links"]
    )
    history = await get(helpers, alice, href(messaging, "sendMessage"))
    hrefs = [link["href"] for link in history["_links"]["message"]]
    assert len(hrefs) == 2
    texts = [href(await get(helpers, alice, h), "plainMessage") for h in hrefs]
    assert texts == [plain("Hi Alice"), plain("Second")]

    invitation = await get(helpers, alice, href(side.invitation))
    assert invitation["state"] == "Connected" and invitation["direction"] == "Incoming"

    typing = await helpers.client.post(
        href(pair.bill.messaging or {}, "setIsTyping"), headers=pair.bill.who.headers
    )
    assert typing.status_code == 204
    read = await side.channel.expect(("participant", "added"))
    added = one(read, "participant", "added")
    assert added["in"]["rel"] == "typingParticipants"
    assert added["in"]["href"] == href(messaging, "typingParticipants")
    assert added["link"] == {"rel": "participant", "href": bill_link, "title": "Bill Mauldin"}
    typists = await get(helpers, alice, href(messaging, "typingParticipants"))
    assert [link["href"] for link in typists["_links"]["participant"]] == [bill_link]


async def test_decline(helpers: Helpers) -> None:
    pair = await invite(helpers)
    answer = await helpers.client.post(
        href(pair.alice.invitation, "decline"), headers=pair.alice.who.headers
    )
    assert answer.status_code == 204
    for side in (pair.bill, pair.alice):
        read = await side.channel.expect(
            ("messagingInvitation", "completed"), ("conversation", "deleted")
        )
        done = one(read, "messagingInvitation", "completed")
        assert done["status"] == "Failure"
        assert done["reason"]["subcode"] == "Declined" and done["reason"]["code"]
        assert events(read, "message") == []
        conversation = await get(helpers, side.who, side.conversation)
        assert conversation["state"] == "Disconnected"
    response = await send(
        helpers, pair.bill, "still there?", to=pair.bill.conversation + "/messaging/messages"
    )
    assert response.status_code == 409, response.text


async def test_cancel_by_the_inviter(helpers: Helpers) -> None:
    pair = await invite(helpers)
    answer = await helpers.client.post(
        href(pair.bill.invitation, "cancel"), headers=pair.bill.who.headers
    )
    assert answer.status_code == 204
    for side in (pair.alice, pair.bill):
        read = await side.channel.expect(
            ("messagingInvitation", "completed"), ("conversation", "deleted")
        )
        done = one(read, "messagingInvitation", "completed")
        assert done["status"] == "Failure" and done["reason"]["code"]
        assert inner(done)["state"] != "Connecting"
    late = await helpers.client.post(
        href(pair.alice.invitation, "accept"), headers=pair.alice.who.headers
    )
    assert late.status_code == 409


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", None),
        (b"{}", "application/json"),
        (b"bye", "text/plain"),
    ],
)
async def test_stop_messaging_ends_it_for_both(
    helpers: Helpers, content: bytes, content_type: str | None
) -> None:
    pair = await connected(helpers)
    assert pair.bill.messaging is not None
    headers = dict(pair.bill.who.headers)
    if content_type:
        headers["Content-Type"] = content_type
    stop = await helpers.client.post(
        href(pair.bill.messaging, "stopMessaging"), content=content, headers=headers
    )
    assert stop.status_code == 204, stop.text
    assert stop.content == b""
    await _assert_ended(helpers, pair)


async def test_leaving_the_conversation_ends_it_for_both(helpers: Helpers) -> None:
    pair = await connected(helpers)
    left = await helpers.client.delete(pair.alice.conversation, headers=pair.alice.who.headers)
    assert left.status_code == 204
    await _assert_ended(helpers, pair)


async def _assert_ended(helpers: Helpers, pair: Any) -> None:
    for side in (pair.bill, pair.alice):
        read = await side.channel.expect(("messaging", "updated"), ("conversation", "deleted"))
        messaging = inner(one(read, "messaging", "updated"))
        assert messaging["state"] == "Disconnected"
        assert "sendMessage" not in messaging["_links"]
        assert inner(one(read, "conversation", "deleted"))["state"] == "Disconnected"
        conversation = await get(helpers, side.who, side.conversation)
        assert conversation["state"] == "Disconnected"
        assert (await get(helpers, side.who, href(conversation, "messaging")))["state"] == (
            "Disconnected"
        )
        late = await send(helpers, side, "anyone?")
        assert late.status_code == 409, late.text
        listing = side.who.app["_embedded"]["communication"]["_links"]["conversations"]["href"]
        active = await get(helpers, side.who, listing)
        assert active["_links"].get("conversation", []) == []


async def test_an_html_message_also_carries_its_plain_form(helpers: Helpers) -> None:
    """Clients that read only plainMessage still read an HTML message (spec §3.7 step 4)."""
    pair = await connected(helpers)
    html = "<p>Hi <b>Bill</b></p><script>steal()</script>&amp; co<br>bye"
    response = await send(helpers, pair.alice, html, "text/html")
    assert response.status_code == 201, response.text
    (theirs,) = await received(pair.bill)
    assert href(theirs, "htmlMessage").startswith("data:text/html;charset=utf-8,%3Cp%3E")
    assert href(theirs, "plainMessage") == plain("Hi Bill\n& co\nbye")


async def test_html_is_negotiated_only_for_applications_that_support_it(
    helpers: Helpers,
) -> None:
    pair = await connected(helpers)
    assert pair.alice.messaging is not None
    messaging = href(pair.alice.messaging)
    got = await helpers.client.get(messaging, headers=pair.alice.who.headers)
    assert got.json()["negotiatedMessageFormats"] == ["Plain"]  # makeMeAvailable named no Html
    communication = pair.alice.who.link("communication", "self")
    current = await helpers.client.get(communication, headers=pair.alice.who.headers)
    body = {"supportedMessageFormats": ["Plain", "Html"], "supportedModalities": ["Messaging"]}
    headers = {**pair.alice.who.headers, "If-Match": current.headers["etag"]}
    put = await helpers.client.put(communication, json=body, headers=headers)
    assert put.status_code == 200, put.text
    got = await helpers.client.get(messaging, headers=pair.alice.who.headers)
    assert got.json()["negotiatedMessageFormats"] == ["Plain", "Html"]


async def test_a_batch_is_bounded_in_size_and_the_rest_follows(helpers: Helpers) -> None:
    """Forty 32 KiB messages (1.3 MB stored) come in more than one batch, none lost."""
    pair = await connected(helpers)
    texts = [f"{i:02d}" + "x" * (32 * 1024 - 2) for i in range(40)]
    for text in texts:
        assert (await send(helpers, pair.alice, text)).status_code == 201
    sizes: list[int] = []
    got: list[str] = []
    while len(got) < len(texts):
        response = await helpers.client.get(pair.bill.channel.next, headers=pair.bill.who.headers)
        assert response.status_code == 200
        sizes.append(len(response.content))
        body = response.json()
        pair.bill.channel.next = body["_links"]["next"]["href"]
        for sender in body["sender"]:
            for event in sender["events"]:
                if event["link"]["rel"] == "message" and event["type"] == "completed":
                    got.append(unquote_plus(href(inner(event), "plainMessage").split(",", 1)[1]))
    assert got == texts
    assert len(sizes) >= 2 and max(sizes) < 3 * 1024 * 1024


async def test_a_participant_from_outside_the_organisation_is_federated(
    helpers: Helpers, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, name, password = "sip:eve@fabrikam.com", "Eve Outside", "eve-pass"
    monkeypatch.setitem(USERS, "eve", (uri, name, password))
    await built.storage.users.add(User(uri, name, CHEAP_PASSWORDS.hash(password)))
    bill, eve = await helpers.session("bill"), await helpers.session("eve")
    await make_available(helpers, eve)
    bills, eves = Channel(helpers, bill), Channel(helpers, eve)
    assert (await start(helpers, bill, invitation_body(to=uri))).status_code == 201
    incoming = inner(
        one(await eves.expect(("messagingInvitation", "started")), "messagingInvitation", "started")
    )
    accepted = await helpers.client.post(href(incoming, "accept"), headers=eve.headers)
    assert accepted.status_code == 204, accepted.text
    added = one(await bills.expect(("participant", "added")), "participant", "added")
    seen = await helpers.client.get(added["link"]["href"], headers=bill.headers)
    assert (seen.json()["uri"], seen.json()["sourceNetwork"]) == (uri, "Federated")
    own = seen.json()["_links"]["conversation"]["href"] + "/participants/bmauldin@contoso.com"
    mine = await helpers.client.get(own, headers=bill.headers)
    assert mine.json()["sourceNetwork"] == "SameEnterprise"


async def test_the_inviter_learns_who_accepted(helpers: Helpers) -> None:
    """messagingInvitation_ref: "the participant that accepts it will be provided
    (acceptedByParticipant)", an embedded array (spec §4.3 rule 4)."""
    pair = await invite(helpers)
    bill_read, alice_read = await accept(helpers, pair)
    done = inner(one(bill_read, "messagingInvitation", "completed"))
    (who,) = done["_embedded"]["acceptedByParticipant"]
    assert (who["uri"], who["name"], who["sourceNetwork"]) == (
        ALICE,
        "Alice Ciccu",
        "SameEnterprise",
    )
    seen = await helpers.client.get(href(who), headers=pair.bill.who.headers)
    assert seen.status_code == 200 and seen.json()["uri"] == ALICE
    mine = inner(one(alice_read, "messagingInvitation", "completed"))
    assert "acceptedByParticipant" not in mine.get("_embedded", {})
