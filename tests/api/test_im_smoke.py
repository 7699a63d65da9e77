import asyncio
from typing import Any

from tests.conftest import Helpers, Session


async def poll(helpers: Helpers, who: Session, href: str) -> tuple[dict[str, Any], str]:
    response = await helpers.client.get(href, headers=who.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body, body["_links"]["next"]["href"]


def flat(batch: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(s["rel"], e["link"]["rel"], e["type"]) for s in batch["sender"] for e in s["events"]]


async def test_two_users_exchange_messages(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    mma = await helpers.client.post(
        alice.link("me", "makeMeAvailable"), json={"signInAs": "Online"}, headers=alice.headers
    )
    assert mma.status_code == 204
    a_next = alice.link("events")
    _, a_next = await poll(helpers, alice, a_next)  # the makeMeAvailable batch
    b_next = bill.link("events")
    start = await helpers.client.post(
        bill.link("communication", "startMessaging"),
        json={
            "operationId": "op-1",
            "to": "sip:alice@contoso.com",
            "_links": {"message": {"href": "data:text/plain;charset=utf-8,Hi+Alice"}},
        },
        headers=bill.headers,
    )
    assert start.status_code == 201, start.text
    batch, b_next = await poll(helpers, bill, b_next)
    assert ("communication", "messagingInvitation", "started") in flat(batch)
    batch, a_next = await poll(helpers, alice, a_next)
    events = flat(batch)
    assert ("communication", "messagingInvitation", "started") in events, events
    invitation = batch["sender"][0]["events"][0]["_embedded"]["messagingInvitation"]
    assert invitation["direction"] == "Incoming"
    assert invitation["_embedded"]["from"]["uri"] == "sip:bmauldin@contoso.com"
    accept = invitation["_links"]["accept"]["href"]
    assert (await helpers.client.post(accept, headers=alice.headers)).status_code == 204
    batch, a_next = await poll(helpers, alice, a_next)
    kinds = flat(batch)
    assert ("conversation", "message", "completed") in kinds, kinds
    message = next(e for s in batch["sender"] for e in s["events"] if e["link"]["rel"] == "message")
    assert message["_embedded"]["message"]["direction"] == "Incoming"
    assert message["_embedded"]["message"]["_links"]["plainMessage"]["href"].endswith("Hi+Alice")
    messaging = next(
        e for s in batch["sender"] for e in s["events"] if e["link"]["rel"] == "messaging"
    )
    send = messaging["_embedded"]["messaging"]["_links"]["sendMessage"]["href"]
    reply = await helpers.client.post(
        send + "?OperationContext=x1",
        content="Hello Bill",
        headers={**alice.headers, "Content-Type": "text/plain; charset=UTF-8"},
    )
    assert reply.status_code == 201, reply.text
    for _ in range(3):
        batch, b_next = await poll(helpers, bill, b_next)
        texts = [
            e["_embedded"]["message"]["_links"]["plainMessage"]["href"]
            for s in batch["sender"]
            for e in s["events"]
            if e["link"]["rel"] == "message"
            and e["_embedded"]["message"]["direction"] == "Incoming"
        ]
        if texts:
            break
    assert texts == ["data:text/plain;charset=utf-8,Hello+Bill"]
    await asyncio.sleep(0)


async def test_accept_batch_starts_with_the_communication_sender(helpers: Helpers) -> None:
    """CLIENT-COMPAT: some clients look at sender[0] only."""
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    await helpers.client.post(
        alice.link("me", "makeMeAvailable"), json={"signInAs": "Online"}, headers=alice.headers
    )
    _, a_next = await poll(helpers, alice, alice.link("events"))
    _, b_next = await poll(helpers, bill, bill.link("events"))
    await helpers.client.post(
        bill.link("communication", "startMessaging"),
        json={"to": "sip:alice@contoso.com"},
        headers=bill.headers,
    )
    batch, a_next = await poll(helpers, alice, a_next)
    invitation = batch["sender"][0]["events"][0]["_embedded"]["messagingInvitation"]
    _, b_next = await poll(helpers, bill, b_next)  # bill's invitation started
    accept = invitation["_links"]["accept"]["href"]
    assert (await helpers.client.post(accept, headers=alice.headers)).status_code == 204
    for who, href in ((alice, a_next), (bill, b_next)):
        batch, _ = await poll(helpers, who, href)
        first = batch["sender"][0]
        assert first["rel"] == "communication", batch
        assert [e["link"]["rel"] for e in first["events"]][:2] == [
            "conversation",
            "messagingInvitation",
        ]
