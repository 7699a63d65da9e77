"""Instant messaging between two users in XML: ``<input>`` startMessaging bodies, XML event
batches (``<started>``/``<completed status=…>``/``<reason>``, nested ``<resource>``), and every
conversation resource read with ``Accept: application/xml``, following links only.
Spec: UCWA-MEETINGS.md §2.4.4, §2.9.1, §2.10, §2.11, §4.3, §4.4, §4.5, §4.6, E35, E39."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.api.im_support import ALICE, BILL, make_available, plain
from tests.api.meetings_support import XML, q, xml_input, xml_links, xml_props, xml_root
from tests.conftest import Helpers, Session

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
VND_XML = "application/vnd.microsoft.com.ucwa+xml"


@dataclass
class XEvent:
    sender: str
    type: str
    rel: str
    href: str
    element: ET.Element

    @property
    def resource(self) -> ET.Element:
        found = self.element.find(q("resource"))
        assert found is not None, ET.tostring(self.element)
        return found

    @property
    def props(self) -> dict[str, str | list[str]]:
        return xml_props(self.resource)

    @property
    def links(self) -> dict[str, str]:
        return xml_links(self.resource)


class XmlChannel:
    """An event channel read in XML (``accept`` = the media type asked for)."""

    def __init__(self, helpers: Helpers, who: Session, accept: str = "application/xml") -> None:
        self.client, self.who, self.accept = helpers.client, who, accept
        self.next = who.link("events")

    async def poll(self) -> list[XEvent]:
        headers = {**self.who.headers, "Accept": self.accept}
        response = await self.client.get(self.next, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(self.accept)
        root = ET.fromstring(response.content)
        assert root.tag == q("events")
        self.next = xml_links(root)["next"]
        read = []
        for sender in root.iterfind(q("sender")):
            for event in sender:
                read.append(
                    XEvent(
                        sender.attrib["rel"],
                        event.tag.removeprefix(q("")),
                        event.attrib["rel"],
                        event.attrib["href"],
                        event,
                    )
                )
        return read

    async def expect(self, *wanted: tuple[str, str]) -> list[XEvent]:
        read: list[XEvent] = []
        for _ in range(5):
            read += await self.poll()
            if all(any((e.rel, e.type) == w for e in read) for w in wanted):
                return read
        raise AssertionError(f"{wanted} not all in {[(e.rel, e.type) for e in read]}")


def one(read: list[XEvent], rel: str, type_: str) -> XEvent:
    found = [e for e in read if (e.rel, e.type) == (rel, type_)]
    assert len(found) == 1, (rel, type_, [(e.rel, e.type) for e in read])
    return found[0]


async def get_xml(helpers: Helpers, who: Session, url: str) -> ET.Element:
    response = await helpers.client.get(url, headers={**who.headers, **XML})
    assert response.status_code == 200, (url, response.text)
    root = xml_root(response)
    assert root.tag == q("resource")
    return root


async def start_xml(helpers: Helpers, who: Session, body: bytes) -> httpx.Response:
    return await helpers.client.post(
        who.link("communication", "startMessaging"),
        content=body,
        headers={**who.headers, **XML, "Content-Type": "application/xml"},
    )


def start_input(
    to: str = ALICE, message: str | None = "data:text/plain;charset=utf-8,Hi+Alice"
) -> bytes:
    body = xml_input("input", {"operationId": "op-x", "to": to, "subject": "Plans"})
    if message is None:
        return body
    link = f'<link rel="message" href="{message}"/>'.encode()
    return body.replace(b"</input>", link + b"</input>")


@dataclass
class XSide:
    who: Session
    channel: XmlChannel
    invitation: ET.Element
    conversation: str


async def invite_xml(helpers: Helpers, message: str | None = None) -> tuple[XSide, XSide]:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await make_available(helpers, alice)
    b_chan, a_chan = XmlChannel(helpers, bill), XmlChannel(helpers, alice, VND_XML)
    body = start_input() if message is None else start_input(message=message)
    response = await start_xml(helpers, bill, body)
    assert response.status_code == 201, response.text
    assert response.content == b""
    sides = []
    for who, chan in ((bill, b_chan), (alice, a_chan)):
        read = await chan.expect(("messagingInvitation", "started"), ("conversation", "added"))
        started = one(read, "messagingInvitation", "started")
        conversation = one(read, "conversation", "added")
        assert started.sender == "communication" and conversation.sender == "communication"
        assert started.links["conversation"] == conversation.href
        sides.append(XSide(who, chan, started.resource, conversation.href))
    assert sides[0].invitation.attrib["href"] == response.headers["location"]
    return sides[0], sides[1]


async def test_xml_invitation_accept_and_messages(helpers: Helpers) -> None:
    bill, alice = await invite_xml(helpers)
    outgoing = xml_props(bill.invitation)
    assert (outgoing["direction"], outgoing["state"]) == ("Outgoing", "Connecting")
    assert (outgoing["operationId"], outgoing["to"], outgoing["subject"]) == (
        "op-x",
        ALICE,
        "Plans",
    )
    incoming = xml_props(alice.invitation)
    assert (incoming["direction"], incoming["state"]) == ("Incoming", "Connecting")
    links = xml_links(alice.invitation)
    assert {"accept", "decline", "conversation", "messaging"} <= set(links)
    assert links["message"] == plain("Hi Alice")
    sender = alice.invitation.find(q("resource"))
    assert sender is not None and sender.attrib["rel"] == "from"
    assert xml_props(sender)["name"] == "Bill Mauldin"
    assert xml_props(sender)["uri"] == BILL

    answer = await helpers.client.post(links["accept"], headers={**alice.who.headers, **XML})
    assert answer.status_code == 204
    for side in (bill, alice):
        read = await side.channel.expect(
            ("messaging", "updated"),
            ("conversation", "updated"),
            ("messagingInvitation", "completed"),
            ("message", "completed"),
        )
        assert one(read, "conversation", "updated").props["state"] == "Connected"
        messaging = one(read, "messaging", "updated")
        assert messaging.props["state"] == "Connected"
        for rel in ("sendMessage", "stopMessaging", "setIsTyping", "typingParticipants"):
            assert messaging.links[rel].startswith(side.conversation + "/messaging"), rel
        done = one(read, "messagingInvitation", "completed")
        assert done.element.attrib["status"] == "Success"
        assert done.props["state"] == "Connected"
        message = one(read, "message", "completed")
        assert message.element.attrib["status"] == "Success"
        assert ISO_Z.match(str(message.props["timeStamp"])), message.props
        assert message.links["plainMessage"] == plain("Hi Alice")
        if side is alice:
            assert message.props["direction"] == "Incoming"
            title = message.resource.find(f"{q('link')}[@rel='participant']")
            assert title is not None and title.attrib["title"] == "Bill Mauldin"
            assert message.links["contact"].endswith("/people/bmauldin@contoso.com")
        else:
            assert message.props["direction"] == "Outgoing"

    send = messaging.links["sendMessage"]  # alice's
    reply = await helpers.client.post(
        send + "?operationId=x-1",
        content=b"Hi Bill & co",
        headers={**alice.who.headers, **XML, "Content-Type": "text/plain; charset=UTF-8"},
    )
    assert reply.status_code == 201, reply.text
    mine = one(await alice.channel.expect(("message", "completed")), "message", "completed")
    assert (mine.props["direction"], mine.props["operationId"]) == ("Outgoing", "x-1")
    theirs = one(await bill.channel.expect(("message", "completed")), "message", "completed")
    assert theirs.props["direction"] == "Incoming"
    assert theirs.links["plainMessage"] == plain("Hi Bill & co")
    await _read_everything_in_xml(helpers, alice, reply.headers["location"])


async def _read_everything_in_xml(helpers: Helpers, side: XSide, sent: str) -> None:
    who = side.who
    conversation = await get_xml(helpers, who, side.conversation)
    assert conversation.attrib["rel"] == "conversation"
    props = xml_props(conversation)
    assert props["state"] == "Connected" and props["activeModalities"] == ["Messaging"]
    links = xml_links(conversation)

    listing = who.app["_embedded"]["communication"]["_links"]["conversations"]["href"]
    active = await get_xml(helpers, who, listing)
    assert [c.attrib["href"] for c in active.iterfind(f"{q('link')}[@rel='conversation']")] == [
        side.conversation
    ]
    participants = await get_xml(helpers, who, links["participants"])
    people = {
        link.attrib["title"]: link.attrib["href"]
        for link in participants.iterfind(f"{q('link')}[@rel='participant']")
    }
    assert sorted(people) == ["Alice Ciccu", "Bill Mauldin"]
    other = await get_xml(helpers, who, people["Bill Mauldin"])
    assert xml_props(other)["uri"] == BILL and xml_props(other)["name"] == "Bill Mauldin"
    me = await get_xml(helpers, who, links["localParticipant"])
    assert xml_props(me)["uri"] == ALICE

    messaging = await get_xml(helpers, who, links["messaging"])
    assert xml_props(messaging)["state"] == "Connected"
    messaging_links = xml_links(messaging)
    history = await get_xml(helpers, who, messaging_links["sendMessage"])
    hrefs = [m.attrib["href"] for m in history.iterfind(f"{q('link')}[@rel='message']")]
    assert len(hrefs) == 2 and hrefs[-1] == sent
    last = await get_xml(helpers, who, sent)
    assert xml_props(last)["direction"] == "Outgoing"
    assert xml_links(last)["plainMessage"] == plain("Hi Bill & co")
    invitation = await get_xml(helpers, who, side.invitation.attrib["href"])
    assert xml_props(invitation)["state"] == "Connected"
    typists = await get_xml(helpers, who, messaging_links["typingParticipants"])
    assert typists.attrib["rel"] == "typingParticipants"


async def test_xml_first_message_in_base64(helpers: Helpers) -> None:
    encoded = base64.b64encode("Grüße, Alice".encode()).decode()
    _, alice = await invite_xml(helpers, f"data:text/plain;base64,{encoded}")
    assert xml_links(alice.invitation)["message"] == plain("Grüße, Alice")


async def test_xml_decline_completes_with_a_reason(helpers: Helpers) -> None:
    bill, alice = await invite_xml(helpers)
    decline = xml_links(alice.invitation)["decline"]
    assert (await helpers.client.post(decline, headers=alice.who.headers)).status_code == 204
    for side in (bill, alice):
        read = await side.channel.expect(
            ("messagingInvitation", "completed"), ("conversation", "deleted")
        )
        done = one(read, "messagingInvitation", "completed")
        assert done.element.attrib["status"] == "Failure"
        reason = done.element.find(q("reason"))
        assert reason is not None
        assert reason.findtext(q("code")) and reason.findtext(q("subcode")) == "Declined"
        assert one(read, "conversation", "deleted").props["state"] == "Disconnected"


async def test_xml_stop_messaging_and_late_send(helpers: Helpers) -> None:
    bill, alice = await invite_xml(helpers)
    accept = xml_links(alice.invitation)["accept"]
    assert (await helpers.client.post(accept, headers=alice.who.headers)).status_code == 204
    stops = {}
    for side in (bill, alice):
        read = await side.channel.expect(("messaging", "updated"), ("message", "completed"))
        stops[side.who.app_href] = one(read, "messaging", "updated").links
    stop = await helpers.client.post(
        stops[bill.who.app_href]["stopMessaging"],
        content=xml_input("input", {}),
        headers={**bill.who.headers, **XML, "Content-Type": "application/xml"},
    )
    assert stop.status_code == 204, stop.text
    for side in (bill, alice):
        read = await side.channel.expect(("messaging", "updated"), ("conversation", "deleted"))
        assert one(read, "messaging", "updated").props["state"] == "Disconnected"
        conversation = await get_xml(helpers, side.who, side.conversation)
        assert xml_props(conversation)["state"] == "Disconnected"
        late = await helpers.client.post(
            stops[side.who.app_href]["sendMessage"],
            content=b"late",
            headers={**side.who.headers, **XML, "Content-Type": "text/plain"},
        )
        assert late.status_code == 409
        assert xml_root(late).findtext(q("code")) == "Conflict"


@pytest.mark.parametrize("to", [None, "alice", "tel:+14255550100"])
async def test_xml_invalid_start_input(helpers: Helpers, to: str | None) -> None:
    bill = await helpers.session("bill")
    props = {"operationId": "op-x"} if to is None else {"operationId": "op-x", "to": to}
    response = await start_xml(helpers, bill, xml_input("input", props))
    assert response.status_code == 400, response.text
    reason = xml_root(response)
    assert reason.tag == q("reason")
    assert reason.findtext(q("subcode")) == "ParameterValidationFailure"
    names = [p.attrib["name"] for p in reason.iterfind(f"{q('parameters')}/{q('property')}")]
    assert "to" in names
