"""Instant messaging: errors and bad input. Unknown ids, answering twice or in the wrong
direction, messaging out of state, people who do not exist or are not available, invalid
startMessaging input and message bodies, and other users' URLs. After each error the
conversation still works. Spec: UCWA-MEETINGS.md §2.0.4, §2.11, §4.5, §4.6, E16, E17, E19."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any
from urllib.parse import unquote_plus

import pytest

from openucwa.domain.clock import FakeClock
from openucwa.settings import Settings
from tests.api.im_support import (
    ALICE,
    BILL,
    TOSH,
    Channel,
    Pair,
    accept,
    assert_error,
    connected,
    events,
    href,
    inner,
    invitation_body,
    invite,
    make_available,
    one,
    plain,
    received,
    send,
    start,
)
from tests.api.meetings_support import running_app
from tests.conftest import Helpers, Session

MAX_TEXT = 32 * 1024


async def still_works(helpers: Helpers, pair: Pair, text: str = "still here") -> None:
    """A valid message from alice reaches bill, and nothing else does."""
    assert (await send(helpers, pair.alice, text)).status_code == 201
    theirs = await received(pair.bill)
    assert [href(m, "plainMessage") for m in theirs] == [plain(text)]
    await received(pair.alice)


async def history(helpers: Helpers, pair: Pair) -> list[str]:
    assert pair.alice.messaging is not None
    response = await helpers.client.get(
        href(pair.alice.messaging, "sendMessage"), headers=pair.alice.who.headers
    )
    assert response.status_code == 200, response.text
    return [link["href"] for link in response.json()["_links"].get("message", [])]


async def conversations(helpers: Helpers, who: Session) -> list[str]:
    listing = who.app["_embedded"]["communication"]["_links"]["conversations"]["href"]
    response = await helpers.client.get(listing.split("?")[0], headers=who.headers)
    assert response.status_code == 200, response.text
    return [link["href"] for link in response.json()["_links"].get("conversation", [])]


async def test_unknown_ids_are_not_found(helpers: Helpers) -> None:
    pair = await connected(helpers)
    a, conv = pair.alice.who, pair.alice.conversation
    comm = a.app_href + "/communication"
    gets = [
        f"{comm}/conversations/nope",
        f"{comm}/conversations/nope/messaging",
        f"{comm}/conversations/nope/participants",
        f"{comm}/conversations/nope/messaging/messages",
        f"{conv}/messaging/messages/nope",
        f"{conv}/participants/nobody@contoso.com",
        f"{conv}/participants/nobody@contoso.com/messaging",
        f"{comm}/messagingInvitations/nope",
    ]
    for url in gets:
        assert_error(await helpers.client.get(url, headers=a.headers), 404, "NotFound")
    posts = [
        f"{comm}/conversations/nope/messaging/messages",
        f"{comm}/conversations/nope/messaging/terminate",
        f"{comm}/conversations/nope/messaging/typing",
        f"{conv}/messaging/messages/nope",  # a reply to a message that does not exist
        f"{comm}/messagingInvitations/nope/accept",
        f"{comm}/messagingInvitations/nope/decline",
        f"{comm}/messagingInvitations/nope/cancel",
    ]
    for url in posts:
        response = await send(helpers, pair.alice, "lost", to=url)
        assert_error(response, 404, "NotFound")
    deleted = await helpers.client.delete(f"{comm}/conversations/nope", headers=a.headers)
    assert_error(deleted, 404, "NotFound")
    assert len(await history(helpers, pair)) == 1  # only "Hi Alice"
    await still_works(helpers, pair)


async def test_answering_twice_or_in_the_wrong_direction_conflicts(helpers: Helpers) -> None:
    pair = await invite(helpers)
    b, a = pair.bill.who, pair.alice.who
    own = href(pair.bill.invitation)
    for url in (own + "/accept", own + "/decline"):  # bill's invitation is Outgoing
        assert_error(await helpers.client.post(url, headers=b.headers), 409, "Conflict")
    cancel_incoming = href(pair.alice.invitation) + "/cancel"
    assert_error(await helpers.client.post(cancel_incoming, headers=a.headers), 409, "Conflict")

    await accept(helpers, pair)
    for url in (
        href(pair.alice.invitation) + "/accept",
        href(pair.alice.invitation) + "/decline",
    ):
        assert_error(await helpers.client.post(url, headers=a.headers), 409, "Conflict")
    assert_error(await helpers.client.post(own + "/cancel", headers=b.headers), 409, "Conflict")
    await still_works(helpers, pair)


async def test_messaging_out_of_state_conflicts(helpers: Helpers) -> None:
    pair = await invite(helpers)
    for side in (pair.bill, pair.alice):  # invited, not yet accepted
        messages = side.conversation + "/messaging/messages"
        assert_error(await send(helpers, side, "early", to=messages), 409, "Conflict")
        typing = await helpers.client.post(
            side.conversation + "/messaging/typing", headers=side.who.headers
        )
        assert_error(typing, 409, "Conflict")
    await accept(helpers, pair)
    assert len(await history(helpers, pair)) == 1
    await still_works(helpers, pair)

    assert pair.bill.messaging is not None
    stop = href(pair.bill.messaging, "stopMessaging")
    assert (await helpers.client.post(stop, headers=pair.bill.who.headers)).status_code == 204
    for side in (pair.bill, pair.alice):
        await side.channel.expect(("conversation", "deleted"))
        assert_error(await send(helpers, side, "late"), 409, "Conflict")
        assert side.messaging is not None
        typing = await helpers.client.post(
            href(side.messaging, "setIsTyping"), headers=side.who.headers
        )
        assert_error(typing, 409, "Conflict")
    again = await helpers.client.post(stop, headers=pair.bill.who.headers)
    assert again.status_code in (204, 409), again.text  # never a 500


@pytest.mark.parametrize("to", ["sip:nobody@contoso.com", "sip:someone@fabrikam.com"])
async def test_messaging_someone_who_does_not_exist(helpers: Helpers, to: str) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    response = await start(helpers, bill, invitation_body(to=to))
    assert response.status_code == 201, response.text
    read = await channel.expect(("messagingInvitation", "completed"), ("conversation", "deleted"))
    done = one(read, "messagingInvitation", "completed")
    assert href(inner(done)) == response.headers["location"]
    assert done["status"] == "Failure"
    assert (done["reason"]["code"], done["reason"]["subcode"]) == (
        "NotFound",
        "DestinationNotFound",
    )


@pytest.mark.parametrize("with_application", [False, True])
async def test_messaging_someone_not_available(helpers: Helpers, with_application: bool) -> None:
    bill = await helpers.session("bill")
    tosh = await helpers.session("tosh") if with_application else None  # no makeMeAvailable
    channel = Channel(helpers, bill)
    response = await start(helpers, bill, invitation_body(to=TOSH))
    assert response.status_code == 201, response.text
    read = await channel.expect(("messagingInvitation", "completed"), ("conversation", "deleted"))
    done = one(read, "messagingInvitation", "completed")
    assert done["status"] == "Failure"
    assert done["reason"]["subcode"] == "TemporarilyUnavailable"
    if tosh is not None:
        await Channel(helpers, tosh).quiet()
    # once tosh is available, the same request reaches him
    tosh = tosh or await helpers.session("tosh")
    await make_available(helpers, tosh)
    assert (await start(helpers, bill, invitation_body(to=TOSH))).status_code == 201
    await Channel(helpers, tosh).expect(("messagingInvitation", "started"))


@pytest.mark.parametrize(
    "body",
    [
        {"operationId": "op-1"},
        {"to": "", "operationId": "op-1"},
        {"to": "alice", "operationId": "op-1"},
        {"to": "sip:alice", "operationId": "op-1"},
        {"to": "tel:+14255550100", "operationId": "op-1"},
        {"to": 42, "operationId": "op-1"},
        {"to": [ALICE], "operationId": "op-1"},
        {"to": ALICE, "operationId": "x" * 51},
    ],
)
async def test_invalid_start_messaging_input(helpers: Helpers, body: dict[str, Any]) -> None:
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    await make_available(helpers, alice)
    response = await start(helpers, bill, body)
    assert_error(response, 400, "BadRequest", "ParameterValidationFailure")
    problem = "operationId" if body.get("to") == ALICE else "to"
    assert problem in response.json().get("parameters", {}), response.json()
    assert await conversations(helpers, bill) == []
    fixed = {**body, "to": ALICE, "operationId": "x" * 50}
    assert (await start(helpers, bill, fixed)).status_code == 201
    await Channel(helpers, alice).expect(("messagingInvitation", "started"))


@pytest.mark.parametrize(
    "uri",
    [
        "Hi Alice",
        "data:text/plain",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:text/plain;base64,YQ",
        "data:text/plain;base64,!!!!",
        "data:text/plain;charset=utf-8,%FF%FE",
        "data:text/plain;base64,//79",  # base64 of bytes that are not UTF-8
    ],
)
async def test_malformed_data_uri(helpers: Helpers, uri: str) -> None:
    bill = await helpers.session("bill")
    body = {"operationId": "op-1", "to": ALICE, "_links": {"message": {"href": uri}}}
    response = await start(helpers, bill, body)
    assert_error(response, 400, "BadRequest")
    assert await conversations(helpers, bill) == []
    pair = await invite(helpers)  # the next valid one goes through
    assert href(pair.alice.invitation, "message") == plain("Hi Alice")


async def test_oversized_first_message(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    response = await start(helpers, bill, invitation_body(text="x" * (MAX_TEXT + 1)))
    assert_error(response, 413, "EntityTooLarge")
    assert await conversations(helpers, bill) == []


async def test_oversized_message(helpers: Helpers) -> None:
    pair = await connected(helpers)
    too_big = await send(helpers, pair.alice, "x" * (MAX_TEXT + 1))
    assert_error(too_big, 413, "EntityTooLarge")
    assert len(await history(helpers, pair)) == 1
    # The limit is in bytes of UTF-8: 32,768 emoji (128 KiB) used to pass as "characters".
    assert_error(await send(helpers, pair.alice, "é" * (MAX_TEXT // 2 + 1)), 413, "EntityTooLarge")
    assert_error(await send(helpers, pair.alice, "\U0001f600" * MAX_TEXT), 413, "EntityTooLarge")
    at_limit = "é" * (MAX_TEXT // 2)  # 16 Ki characters, 32 KiB of UTF-8
    assert (await send(helpers, pair.alice, at_limit)).status_code == 201
    (theirs,) = await received(pair.bill)
    assert href(theirs, "plainMessage") == plain(at_limit)
    await received(pair.alice)
    assert len(await history(helpers, pair)) == 2
    await still_works(helpers, pair)


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"\xff\xfe\xfd", "text/plain", 400, "BadRequest"),
        (b"caf\xe9", "text/plain; charset=UTF-8", 400, "BadRequest"),
        (b"hi", "text/plain; charset=no-such-charset", 400, "BadRequest"),
        (b"6869", "text/plain; charset=hex", 400, "BadRequest"),
        (b"", "text/plain", 400, "BadRequest"),
        (b'{"message": "hi"}', "application/json", 415, "UnsupportedMediaType"),
        (b"<input/>", "application/xml", 415, "UnsupportedMediaType"),
    ],
)
async def test_bad_message_bodies(
    helpers: Helpers, content: bytes, content_type: str, status: int, code: str
) -> None:
    pair = await connected(helpers)
    response = await send(helpers, pair.alice, content, content_type)
    assert_error(response, status, code)
    assert len(await history(helpers, pair)) == 1
    await still_works(helpers, pair)


@pytest.mark.parametrize(
    ("content", "charset"),
    [
        ("café".encode("iso-8859-1"), "iso-8859-1"),
        ("café ☕".encode("utf-16"), "utf-16"),
        ("café".encode("cp1252"), '"windows-1252"'),
    ],
)
async def test_a_message_is_read_in_its_charset(
    helpers: Helpers, content: bytes, charset: str
) -> None:
    """As XML bodies are: the Content-Type's charset, UTF-8 when it names none."""
    pair = await connected(helpers)
    sent = await send(helpers, pair.alice, content, f"text/plain; charset={charset}")
    assert sent.status_code == 201, sent.text
    (message,) = await received(pair.bill)
    assert message["_links"]["plainMessage"]["href"].startswith("data:text/plain")
    assert "caf" in unquote_plus(message["_links"]["plainMessage"]["href"])
    assert unquote_plus(message["_links"]["plainMessage"]["href"]).endswith(
        content.decode(charset.strip('"'))
    )


async def test_operation_id_too_long_on_send(helpers: Helpers) -> None:
    pair = await connected(helpers)
    response = await send(helpers, pair.alice, "hi", query="?operationId=" + "x" * 51)
    assert_error(response, 400, "BadRequest", "ParameterValidationFailure")
    assert len(await history(helpers, pair)) == 1
    await still_works(helpers, pair)


async def every_url(helpers: Helpers, pair: Pair, side_name: str) -> list[str]:
    """Every URL of one side's conversation, found by following links."""
    side = pair.bill if side_name == "bill" else pair.alice
    who = side.who
    urls = [side.conversation, href(side.invitation)]
    conversation = (await helpers.client.get(side.conversation, headers=who.headers)).json()
    urls += [href(conversation, rel) for rel in ("messaging", "participants", "localParticipant")]
    participants = (await helpers.client.get(urls[-2], headers=who.headers)).json()
    for link in participants["_links"]["participant"]:
        person = (await helpers.client.get(link["href"], headers=who.headers)).json()
        urls += [link["href"], href(person, "participantMessaging")]
    assert side.messaging is not None
    urls += [href(side.messaging, rel) for rel in ("sendMessage", "typingParticipants")]
    messages = (await helpers.client.get(urls[-2], headers=who.headers)).json()
    urls += [link["href"] for link in messages["_links"]["message"]]
    for url in urls:  # each of them is real for its owner
        response = await helpers.client.get(url, headers=who.headers)
        assert response.status_code == 200, (url, response.text)
    return urls


async def test_alice_cannot_reach_bills_urls(helpers: Helpers) -> None:
    pair = await connected(helpers)
    b, a = pair.bill.who, pair.alice.who
    urls = await every_url(helpers, pair, "bill")
    urls += [b.app_href, b.link("events"), b.link("communication", "self")]
    urls += [b.link("communication", "conversations")]
    for url in urls:
        response = await helpers.client.get(url, headers=a.headers)
        assert response.status_code == 404, (url, response.text)
    assert pair.bill.messaging is not None
    posts = [
        href(pair.bill.messaging, rel) for rel in ("sendMessage", "stopMessaging", "setIsTyping")
    ]
    posts += [href(pair.bill.invitation) + op for op in ("/accept", "/decline", "/cancel")]
    posts += [b.link("communication", "startMessaging"), b.link("me", "makeMeAvailable")]
    for url in posts:
        response = await send(helpers, pair.alice, "intruder", to=url)
        assert response.status_code == 404, (url, response.text)
    for url in (pair.bill.conversation, b.app_href):
        assert (await helpers.client.delete(url, headers=a.headers)).status_code == 404
    # bill's side is untouched
    assert (await send(helpers, pair.bill, "all fine")).status_code == 201
    (theirs,) = await received(pair.alice)
    assert href(theirs, "plainMessage") == plain("all fine")
    await received(pair.bill)


async def test_a_third_user_cannot_reach_the_conversation(helpers: Helpers) -> None:
    pair = await connected(helpers)
    tosh = await helpers.session("tosh")
    for name in ("bill", "alice"):
        for url in await every_url(helpers, pair, name):
            response = await helpers.client.get(url, headers=tosh.headers)
            assert response.status_code == 404, (url, response.text)
    for side in (pair.bill, pair.alice):
        assert side.messaging is not None
        response = await helpers.client.post(
            href(side.messaging, "sendMessage"),
            content=b"intruder",
            headers={**tosh.headers, "Content-Type": "text/plain"},
        )
        assert response.status_code == 404
        response = await helpers.client.delete(side.conversation, headers=tosh.headers)
        assert response.status_code == 404
    await still_works(helpers, pair)


async def test_an_application_available_only_for_phone_audio_is_not_invited(
    helpers: Helpers,
) -> None:
    """makeMeAvailable takes "incoming invitations for the modalities of their choice"."""
    bill = await helpers.session("bill")
    tosh = await helpers.session("tosh")
    response = await helpers.client.post(
        tosh.link("me", "makeMeAvailable"),
        json={"SupportedModalities": ["PhoneAudio"]},
        headers=tosh.headers,
    )
    assert response.status_code == 204, response.text
    toshs = Channel(helpers, tosh)
    await toshs.expect(("communication", "updated"))  # what makeMeAvailable said
    channel = Channel(helpers, bill)
    assert (await start(helpers, bill, invitation_body(to=TOSH))).status_code == 201
    read = await channel.expect(("messagingInvitation", "completed"))
    done = one(read, "messagingInvitation", "completed")
    assert (done["status"], done["reason"]["subcode"]) == ("Failure", "TemporarilyUnavailable")
    await toshs.quiet()


async def test_one_user_has_a_bounded_number_of_unanswered_invitations(
    settings: Settings, clock: FakeClock
) -> None:
    """Each invitation rings (and stores its message on) every device of the person invited:
    past the cap a new one answers 409 TooManyConversations until one is answered."""
    capped = replace(settings, max_pending_invitations_per_user=2)
    async with running_app(capped, clock) as (_, helpers):
        bill = await helpers.session("bill")
        alice = await helpers.session("alice")
        await make_available(helpers, alice)
        channel = Channel(helpers, alice)
        await channel.poll()  # makeMeAvailable
        for op in ("op-1", "op-2"):
            assert (await start(helpers, bill, invitation_body(op=op))).status_code == 201
        refused = await start(helpers, bill, invitation_body(op="op-3"))
        assert_error(refused, 409, "Conflict", "TooManyConversations")
        # Another user is not held back by bill's invitations.
        tosh = await helpers.session("tosh")
        assert (await start(helpers, tosh, invitation_body(op="t-1"))).status_code == 201
        # Alice declines one of bill's: he may invite again.
        started = events(await channel.poll(), "messagingInvitation", "started")
        decline = inner(started[0])["_links"]["decline"]["href"]
        assert (await helpers.client.post(decline, headers=alice.headers)).status_code == 204
        assert (await start(helpers, bill, invitation_body(op="op-4"))).status_code == 201
        assert_error(await start(helpers, bill, invitation_body(op="op-5")), 409, "Conflict")


async def test_starting_and_cancelling_in_a_loop_is_rate_limited(
    settings: Settings, clock: FakeClock
) -> None:
    """Cancelling frees a place among the unanswered ones at once, so the cap alone would not
    bound how fast one user rings everyone's devices: a token bucket per inviter does."""
    limited = replace(settings, invitations_per_minute=5)
    async with running_app(limited, clock) as (_, helpers):
        bill = await helpers.session("bill")
        alice = await helpers.session("alice")
        await make_available(helpers, alice)
        for i in range(5):
            started = await start(helpers, bill, invitation_body(op=f"op-{i}"))
            assert started.status_code == 201, started.text
            invitation = await helpers.client.get(started.headers["location"], headers=bill.headers)
            cancel = invitation.json()["_links"]["cancel"]["href"]
            assert (await helpers.client.post(cancel, headers=bill.headers)).status_code == 204
        refused = await start(helpers, bill, invitation_body(op="op-5"))
        assert_error(refused, 429, "TooManyRequests")
        clock.advance(13)  # 5 a minute: one more every 12 s
        assert (await start(helpers, bill, invitation_body(op="op-6"))).status_code == 201
        assert_error(await start(helpers, bill, invitation_body(op="op-7")), 429, "TooManyRequests")


async def test_invitations_started_together_keep_to_the_bound(
    settings: Settings, clock: FakeClock
) -> None:
    """The cap was checked before the commit and counted after it: ten invitations started at
    once all passed the check while the first waited for its commit (9-20 of 20 got through
    a cap of 2 over real HTTP)."""
    capped = replace(settings, max_pending_invitations_per_user=2)
    async with running_app(capped, clock) as (_, helpers):
        bill = await helpers.session("bill")
        alice = await helpers.session("alice")
        await make_available(helpers, alice)
        answers = await asyncio.gather(
            *(start(helpers, bill, invitation_body(op=f"op-{i}")) for i in range(10))
        )
        assert sorted(a.status_code for a in answers) == [201] * 2 + [409] * 8
        assert_error(await start(helpers, bill, invitation_body(op="x")), 409, "Conflict")
        # An invitation that fails at once (bill has no available device) gives its place back.
        tosh = await helpers.session("tosh")
        for i in range(4):  # one after the other: in flight, each holds its place
            failed = await start(helpers, tosh, invitation_body(to=BILL, op=f"f{i}"))
            assert failed.status_code == 201, failed.text
        assert (await start(helpers, tosh, invitation_body(op="t"))).status_code == 201
