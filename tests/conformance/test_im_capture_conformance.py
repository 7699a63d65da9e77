"""Our peer-to-peer IM events against real event payloads of a production server
(shared/captures/lync2013-im-events, LGPL-2.1 connector project; see its README): the incoming
`message completed` and the `typingParticipants` membership event of `receive-im-event-batch.json`
— event keys, embedded property names, link rels and URL layout (ids and hosts normalised)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.api.im_support import connected, send
from tests.conftest import Helpers

CAPTURE = Path(__file__).parents[3] / "shared" / "captures" / "lync2013-im-events"
APP = re.compile(r"/ucwa/oauth/v1/applications/[^/]+")
CONV = re.compile(r"/conversations/[^/]+")
TAIL = re.compile(r"/(messages|participants|people)/[^/?]+")


def layout(href: str) -> str:
    return TAIL.sub(r"/\1/{id}", CONV.sub("/conversations/{conv}", APP.sub("{app}", href)))


def shape(event: dict[str, Any]) -> dict[str, Any]:
    """Keys, link rels and normalised hrefs of an event and its embedded resource."""
    out: dict[str, Any] = {"keys": sorted(event), "link": layout(event["link"]["href"])}
    if "in" in event:
        out["in"] = (event["in"]["rel"], layout(event["in"]["href"]))
    for rel, resource in event.get("_embedded", {}).items():
        links = resource["_links"]
        out["embedded"] = {
            "rel": rel,
            "properties": sorted(k for k in resource if k != "_links"),
            "links": {k: layout(v["href"]) for k, v in links.items() if k != "plainMessage"},
            "plainMessage": links["plainMessage"]["href"].split(",", 1)[0],
        }
    return out


@pytest.fixture
def captured() -> list[dict[str, Any]]:
    if not CAPTURE.is_dir():
        pytest.fail(f"the capture is missing: {CAPTURE}")
    batch = json.loads((CAPTURE / "receive-im-event-batch.json").read_text())
    return [e for sender in batch["sender"] for e in sender["events"]]


async def test_incoming_message_and_typing_events_match_the_capture(
    helpers: Helpers, captured: list[dict[str, Any]]
) -> None:
    pair = await connected(helpers)
    bill, alice = pair.bill, pair.alice
    typing = await helpers.client.post(
        alice.messaging["_links"]["setIsTyping"]["href"] if alice.messaging else "",
        headers=alice.who.headers,
    )
    assert typing.status_code == 204
    sent = await send(helpers, alice, "TUAN\r\n")
    assert sent.status_code == 201
    ours: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        for _, event in await bill.channel.poll():
            rel = event["link"]["rel"]
            if rel == "message" and event["_embedded"]["message"]["direction"] == "Incoming":
                ours["message"] = event
            if event.get("in", {}).get("rel") == "typingParticipants" and event["type"] == "added":
                ours["typing"] = event
        if len(ours) == 2:
            break
    assert set(ours) == {"message", "typing"}, ours
    theirs = {"message": captured[0], "typing": captured[1]}

    ours_message, theirs_message = shape(ours["message"]), shape(theirs["message"])
    # Extras we add on purpose: the message resource's `status` and `operationId` (§2.11.4).
    extra = {"status", "operationId"}
    ours_message["embedded"]["properties"] = sorted(
        set(ours_message["embedded"]["properties"]) - extra
    )
    assert ours_message == theirs_message
    assert ours["message"]["status"] == "Success"
    text = ours["message"]["_embedded"]["message"]["_links"]["plainMessage"]["href"]
    assert text == "data:text/plain;charset=utf-8,TUAN%0d%0a"  # byte for byte as captured
    assert shape(ours["typing"]) == shape(theirs["typing"])
