"""The event channel in XML (spec §2.4.4, §5 E35, E39): asked for with
``application/vnd.microsoft.com.ucwa+xml`` or ``application/xml``; one log, the same batch as
the JSON rendering; ``<in/>``, ``status`` and ``<reason>`` in the inferred forms."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.api.events_support import (
    Channel,
    ack_of,
    flat,
    high_event,
    make_available,
    one,
    start_messaging,
)
from tests.conftest import Helpers

UCWA = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
NS = f"{{{UCWA}}}"
VND_XML = "application/vnd.microsoft.com.ucwa+xml"
EVENT_TAGS = {f"{NS}{t}" for t in ("added", "updated", "deleted", "started", "completed")}


def parse(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert "xml" in response.headers["content-type"], response.headers["content-type"]
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}events"
    return root


def check_events(root: ET.Element) -> int:
    """A numbered batch: ``href`` ``?ack=N``, one ``<link rel="next">`` to N+1 first, then
    ``<sender rel href>`` blocks of event elements with ``rel``/``href``. Returns N."""
    number = ack_of(root.attrib["href"])
    links = root.findall(f"{NS}link")
    assert [link.attrib["rel"] for link in links] == ["next"]
    assert ack_of(links[0].attrib["href"]) == number + 1
    assert root[0] is links[0]
    for sender in root.findall(f"{NS}sender"):
        assert sender.attrib["rel"] and sender.attrib["href"]
        assert len(sender), "no empty sender blocks"
        for event in sender:
            assert event.tag in EVENT_TAGS, event.tag
            assert event.attrib["rel"] and event.attrib["href"]
            for resource in event.findall(f"{NS}resource"):
                # keyed by the event's rel, as JSON's _embedded (EventChannelDetails.md sample)
                assert resource.attrib["rel"] == event.attrib["rel"]
    assert {child.tag for child in root} <= {f"{NS}link", f"{NS}sender"}
    return number


def xml_flat(root: ET.Element) -> list[tuple[str, str, str]]:
    return [
        (sender.attrib["rel"], event.attrib["rel"], event.tag.removeprefix(NS))
        for sender in root.findall(f"{NS}sender")
        for event in sender
    ]


def find(root: ET.Element, tag: str, rel: str) -> ET.Element:
    found = [e for s in root.findall(f"{NS}sender") for e in s.findall(f"{NS}{tag}")]
    found = [e for e in found if e.attrib["rel"] == rel]
    assert len(found) == 1, (tag, rel, xml_flat(root))
    return found[0]


def link_href(resource: ET.Element, rel: str) -> str:
    found = [link for link in resource.findall(f"{NS}link") if link.attrib["rel"] == rel]
    assert len(found) == 1, (rel, ET.tostring(resource))
    return found[0].attrib["href"]


@pytest.mark.parametrize("accept", [VND_XML, "application/xml"])
async def test_xml_batch_is_the_json_batch(helpers: Helpers, accept: str) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    await make_available(helpers, bill)
    await high_event(helpers, bill)  # High: releases the queued Medium events at once
    root = parse(await channel.get(Accept=accept))
    assert check_events(root) == 1
    assert root.attrib["href"] == channel.href
    assert xml_flat(root) == [
        ("communication", "communication", "updated"),
        ("me", "me", "updated"),
        ("me", "presence", "added"),
        ("me", "note", "added"),
        ("me", "location", "added"),
        ("communication", "messagingInvitation", "started"),
        ("communication", "conversation", "added"),
        ("conversation", "localParticipant", "added"),
        ("conversation", "messaging", "updated"),
        ("communication", "messagingInvitation", "completed"),
        ("communication", "conversation", "deleted"),
    ]
    senders = root.findall(f"{NS}sender")
    assert senders[0].attrib["href"] == f"{bill.app_href}/communication"
    assert senders[1].attrib == {"rel": "me", "href": f"{bill.app_href}/me"}
    comm = find(root, "updated", "communication").find(f"{NS}resource")
    assert comm is not None and comm.attrib["href"] == f"{bill.app_href}/communication"
    modalities = comm.find(f"{NS}propertyList[@name='supportedModalities']")
    assert modalities is not None
    assert [item.text for item in modalities] == ["Messaging"]
    assert find(root, "added", "presence").attrib["href"] == f"{bill.app_href}/me/presence"
    failed = find(root, "completed", "messagingInvitation")
    assert failed.attrib["status"] == "Failure"
    assert failed.findtext(f"{NS}reason/{NS}code") == "RemoteFailure"
    assert failed.findtext(f"{NS}reason/{NS}subcode") == "TemporarilyUnavailable"
    invitation = failed.find(f"{NS}resource")
    assert invitation is not None and invitation.attrib["rel"] == "messagingInvitation"
    # The same batch, re-fetched in JSON: same events, same hrefs, same order.
    again = (await channel.get()).json()
    assert [tuple(e) for e in flat(again)] == xml_flat(root)
    assert again["_links"]["self"]["href"] == root.attrib["href"]
    hrefs = [e["link"]["href"] for s in again["sender"] for e in s["events"]]
    assert hrefs == [e.attrib["href"] for s in root.findall(f"{NS}sender") for e in s]
    retransmitted = await channel.get(Accept=accept)
    assert retransmitted.content == (await channel.get(Accept=accept)).content
    assert xml_flat(parse(retransmitted)) == xml_flat(root)


async def test_xml_conversation_events_carry_in_status_and_titles(helpers: Helpers) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await make_available(helpers, alice)
    a_chan, b_chan = Channel(helpers, alice), Channel(helpers, bill)
    await start_messaging(helpers, bill, "sip:alice@contoso.com")
    invited = parse(await a_chan.get(Accept=VND_XML))
    check_events(invited)
    started = find(invited, "started", "messagingInvitation")
    resource = started.find(f"{NS}resource")
    assert resource is not None
    assert resource.findtext(f"{NS}property[@name='direction']") == "Incoming"
    local = find(invited, "added", "localParticipant")
    assert local.attrib["title"] == "Alice Ciccu"
    assert local.attrib["href"].endswith("/participants/alice@contoso.com")
    embedded = local.find(f"{NS}resource")  # JSON: _embedded.localParticipant, a participant
    assert embedded is not None
    assert embedded.attrib == {"rel": "localParticipant", "href": local.attrib["href"]}
    assert embedded.findtext(f"{NS}property[@name='rel']") == "participant"
    assert embedded.findtext(f"{NS}property[@name='name']") == "Alice Ciccu"
    a_chan.href = invited.findall(f"{NS}link")[0].attrib["href"]
    await b_chan.poll()
    parked = asyncio.create_task(a_chan.get(Accept="application/xml"))
    await asyncio.sleep(0.05)
    accepted = await helpers.client.post(link_href(resource, "accept"), headers=alice.headers)
    assert accepted.status_code == 204, accepted.text
    root = parse(await parked)
    assert check_events(root) == 2
    done = find(root, "completed", "messagingInvitation")
    assert done.attrib["status"] == "Success"
    assert done.find(f"{NS}reason") is None
    pm = [
        e
        for s in root.findall(f"{NS}sender")
        for e in s.findall(f"{NS}added")
        if e.attrib["rel"] == "participantMessaging"
    ]
    by_in = {e.findall(f"{NS}in")[0].attrib["rel"]: e for e in pm}
    assert len(pm) == 2 and sorted(by_in) == ["localParticipant", "participant"]
    mine = by_in["localParticipant"]
    into = mine.find(f"{NS}in")
    assert into is not None and into.attrib["title"] == "Alice Ciccu"
    assert mine.attrib["href"] == into.attrib["href"] + "/messaging"
    message = find(root, "completed", "message")
    assert message.attrib["status"] == "Success"
    shown = message.find(f"{NS}resource")
    assert shown is not None
    assert link_href(shown, "plainMessage") == "data:text/plain;charset=utf-8,Hi+Alice"
    assert shown.findtext(f"{NS}property[@name='direction']") == "Incoming"
    as_json = (await a_chan.get(root.attrib["href"])).json()
    assert one(as_json, "message")["link"]["href"] == message.attrib["href"]


async def test_xml_empty_batch_and_resync(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    root = parse(await channel.get(Accept=VND_XML))  # nothing happens: the cap
    assert check_events(root) == 1
    assert root.findall(f"{NS}sender") == []
    resync = parse(await channel.get(f"{channel.href.split('?')[0]}?ack=99", Accept=VND_XML))
    assert "href" not in resync.attrib
    assert [(c.tag, c.attrib["rel"]) for c in resync] == [(f"{NS}link", "resync")]
    assert ack_of(resync[0].attrib["href"]) == 1


async def test_xml_pget_replaced_is_an_xml_error(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    first = asyncio.create_task(channel.get(Accept=VND_XML))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(channel.get(Accept=VND_XML))
    await asyncio.sleep(0.05)
    replaced = await first
    assert replaced.status_code == 409
    reason = ET.fromstring(replaced.content)
    assert reason.tag == f"{NS}reason"
    assert reason.findtext(f"{NS}code") == "Conflict"
    assert reason.findtext(f"{NS}subcode") == "PGetReplaced"
    await high_event(helpers, bill)
    assert check_events(parse(await second)) == 1
