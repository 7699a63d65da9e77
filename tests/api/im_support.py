"""Helpers for the instant-messaging API tests (test_im*.py): bill invites alice the way a
client does, by following links only; event channels are read by following ``next``.
Spec: UCWA-MEETINGS.md §2.7, §2.9.1, §2.10, §2.11, §3.7, §3.8, §4.5; CLIENT-COMPAT "Messaging"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

from tests.conftest import USERS, Helpers, Session

BILL, ALICE, TOSH = USERS["bill"][0], USERS["alice"][0], USERS["tosh"][0]
DATE = re.compile(r"^/Date\(\d{13}\)/$")
MAX_POLLS = 5  # each poll is held at most 1 s (the tests' hold cap)

Event = dict[str, Any]
Read = list[tuple[str, Event]]  # (sender rel, event), in channel order


def plain(text: str) -> str:
    """The data URI the server must emit for ``text`` (spec §4.5: + for space, CRLF)."""
    return "data:text/plain;charset=utf-8," + quote_plus(text.replace("\n", "\r\n")).replace(
        "%0D%0A", "%0d%0a"
    )


def kinds(read: Read) -> list[tuple[str, str, str]]:
    return [(sender, e["link"]["rel"], e["type"]) for sender, e in read]


def events(read: Read, rel: str, type_: str | None = None) -> list[Event]:
    return [e for _, e in read if e["link"]["rel"] == rel and type_ in (None, e["type"])]


def one(read: Read, rel: str, type_: str | None = None) -> Event:
    found = events(read, rel, type_)
    assert len(found) == 1, (rel, type_, kinds(read))
    return found[0]


def inner(event: Event) -> dict[str, Any]:
    """The resource embedded in an event (keyed by the event's link rel)."""
    return dict(event["_embedded"][event["link"]["rel"]])


def href(resource: dict[str, Any], rel: str = "self") -> str:
    return str(resource["_links"][rel]["href"])


def assert_error(
    response: httpx.Response, status: int, code: str, subcode: str | None = None
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    if subcode is not None:
        assert body.get("subcode") == subcode, body


class Channel:
    """One application's event channel (JSON)."""

    def __init__(self, helpers: Helpers, who: Session) -> None:
        self.client = helpers.client
        self.who = who
        self.next = who.link("events")

    async def poll(self) -> Read:
        response = await self.client.get(self.next, headers=self.who.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        read: Read = []
        for sender in body["sender"]:
            assert sender["href"].startswith(self.who.app_href), sender
            for event in sender["events"]:
                assert event["link"]["href"].startswith(self.who.app_href), event
                read.append((sender["rel"], event))
        self.next = body["_links"]["next"]["href"]
        return read

    async def expect(self, *wanted: tuple[str, str]) -> Read:
        """Poll until every (link rel, type) of ``wanted`` has arrived; everything read."""
        read: Read = []
        for _ in range(MAX_POLLS):
            read += await self.poll()
            if all(events(read, rel, type_) for rel, type_ in wanted):
                return read
        raise AssertionError(f"{wanted} not all in {kinds(read)}")

    async def quiet(self) -> None:
        """Nothing arrives (one poll, held for the hold cap)."""
        read = await self.poll()
        assert read == [], kinds(read)


async def make_available(helpers: Helpers, who: Session) -> None:
    response = await helpers.client.post(
        who.link("me", "makeMeAvailable"),
        json={"SupportedModalities": ["Messaging"]},
        headers=who.headers,
    )
    assert response.status_code == 204, response.text


def invitation_body(to: str = ALICE, text: str | None = "Hi Alice", op: str = "op-1") -> Any:
    """The CLIENT-COMPAT startMessaging shape with a first message as a data-URI link."""
    body: dict[str, Any] = {"operationId": op, "to": to}
    if text is not None:
        body["_links"] = {"message": {"href": "data:text/plain;charset=utf8," + quote_plus(text)}}
    return body


async def start(helpers: Helpers, who: Session, body: Any) -> httpx.Response:
    return await helpers.client.post(
        who.link("communication", "startMessaging"), json=body, headers=who.headers
    )


@dataclass
class Side:
    """One user's side of a conversation, as that user's client has learnt it from events."""

    who: Session
    channel: Channel
    invitation: dict[str, Any]  # the embedded messagingInvitation, as last seen
    conversation: str  # the conversation's href
    messaging: dict[str, Any] | None = None  # the embedded messaging once Connected

    @property
    def send_href(self) -> str:
        assert self.messaging is not None, "not connected"
        return href(self.messaging, "sendMessage")


@dataclass
class Pair:
    bill: Side
    alice: Side
    bill_invited: Read  # what each channel read up to the invitation
    alice_invited: Read


async def invite(helpers: Helpers, body: Any = None) -> Pair:
    """Bill (JSON) invites an available alice; both channels read the invitation."""
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await make_available(helpers, alice)
    b_chan, a_chan = Channel(helpers, bill), Channel(helpers, alice)
    response = await start(helpers, bill, invitation_body() if body is None else body)
    assert response.status_code == 201, response.text
    wanted = (("messagingInvitation", "started"), ("conversation", "added"))
    b_read, a_read = await b_chan.expect(*wanted), await a_chan.expect(*wanted)
    sides = []
    for who, chan, read in ((bill, b_chan, b_read), (alice, a_chan, a_read)):
        inv = inner(one(read, "messagingInvitation", "started"))
        conv = one(read, "conversation", "added")["link"]["href"]
        assert href(inv, "conversation") == conv
        sides.append(Side(who, chan, inv, conv))
    assert sides[0].invitation["_links"]["self"]["href"] == response.headers["location"]
    return Pair(sides[0], sides[1], b_read, a_read)


ACCEPTED = (
    ("messaging", "updated"),
    ("conversation", "updated"),
    ("messagingInvitation", "completed"),
)


async def accept(helpers: Helpers, pair: Pair, first_message: bool = True) -> tuple[Read, Read]:
    """Alice accepts; returns what bill's and alice's channels read."""
    response = await helpers.client.post(
        href(pair.alice.invitation, "accept"), headers=pair.alice.who.headers
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    wanted = ACCEPTED + ((("message", "completed"),) if first_message else ())
    reads = []
    for side in (pair.bill, pair.alice):
        read = await side.channel.expect(*wanted)
        side.messaging = inner(one(read, "messaging", "updated"))
        side.invitation = inner(one(read, "messagingInvitation", "completed"))
        reads.append(read)
    return reads[0], reads[1]


async def connected(helpers: Helpers) -> Pair:
    pair = await invite(helpers)
    await accept(helpers, pair)
    return pair


async def send(
    helpers: Helpers,
    side: Side,
    text: str | bytes,
    content_type: str = "text/plain",
    query: str = "",
    to: str | None = None,
) -> httpx.Response:
    """POST a message to ``to`` (default: the sendMessage link)."""
    content = text.encode() if isinstance(text, str) else text
    return await helpers.client.post(
        (to or side.send_href) + query,
        content=content,
        headers={**side.who.headers, "Content-Type": content_type},
    )


async def received(side: Side) -> list[Event]:
    """The message events of the next batches up to a message."""
    read = await side.channel.expect(("message", "completed"))
    return [inner(e) for e in events(read, "message", "completed")]
