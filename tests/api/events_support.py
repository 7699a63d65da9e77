"""What the event-channel tests share: polling the way a client does (follow ``next``), the shape
checks every batch must pass (spec §2.4.3, CLIENT-COMPAT "Event channel"), and the actions that
cause events. Hold times are bounded by the 1 s ``max_event_wait`` of the ``settings`` fixture."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import Helpers, Session

CAP = 1.0  # max_event_wait in tests/conftest.py
QUICK = 0.5  # "released at once": well under the cap
Batch = dict[str, Any]


def ack_of(href: str) -> int:
    """The ``ack`` of an events href; fails unless it carries exactly one integer ack."""
    values = parse_qs(urlsplit(href).query).get("ack")
    assert values is not None and len(values) == 1, href
    return int(values[0])


def check_batch(body: Batch) -> int:
    """Every numbered batch: self ``?ack=N``, next ``?ack=N+1``, a ``sender`` list, events with
    ``link.rel``/``link.href``, ``_embedded`` keyed by ``link.rel``. Returns N."""
    links = body["_links"]
    assert set(links) == {"self", "next"}, links
    number = ack_of(links["self"]["href"])
    assert ack_of(links["next"]["href"]) == number + 1
    assert urlsplit(links["self"]["href"]).path == urlsplit(links["next"]["href"]).path
    assert isinstance(body["sender"], list)
    for sender in body["sender"]:
        assert sender["rel"] and sender["href"], sender
        assert sender["events"], sender  # no empty sender blocks
        for event in sender["events"]:
            assert event["link"]["rel"] and event["link"]["href"], event
            assert event["type"] in ("added", "updated", "deleted", "started", "completed")
            if "_embedded" in event:
                assert list(event["_embedded"]) == [event["link"]["rel"]], event
            if "in" in event:
                assert event["in"]["rel"] and event["in"]["href"], event
    return number


def check_resync(response: httpx.Response, ack: int) -> None:
    """200 with no link but ``resync`` (to batch ``ack``) and no events."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["_links"]) == {"resync"}, body
    assert ack_of(body["_links"]["resync"]["href"]) == ack, body
    assert body["sender"] == [], body  # CLIENT-COMPAT: a sender array in every response


def flat(body: Batch) -> list[tuple[str, str, str]]:
    """(sender rel, event link rel, event type) in the order the client sees them."""
    return [(s["rel"], e["link"]["rel"], e["type"]) for s in body["sender"] for e in s["events"]]


def events(body: Batch, rel: str, type_: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for s in body["sender"]
        for e in s["events"]
        if e["link"]["rel"] == rel and (type_ is None or e["type"] == type_)
    ]


def one(body: Batch, rel: str, type_: str | None = None) -> dict[str, Any]:
    found = events(body, rel, type_)
    assert len(found) == 1, (rel, type_, flat(body))
    return found[0]


class Channel:
    """One application's event channel, followed like a client follows it."""

    def __init__(self, helpers: Helpers, who: Session) -> None:
        self.helpers = helpers
        self.who = who
        self.href = who.link("events")
        self.last: Batch | None = None

    async def get(self, href: str | None = None, **headers: str) -> httpx.Response:
        return await self.helpers.client.get(
            href or self.href, headers={**self.who.headers, **headers}
        )

    async def poll(self) -> Batch:
        response = await self.get()
        assert response.status_code == 200, response.text
        body: Batch = response.json()
        assert check_batch(body) == ack_of(self.href)
        self.href = body["_links"]["next"]["href"]
        self.last = body
        return body

    def poll_task(self) -> asyncio.Task[Batch]:
        return asyncio.create_task(self.poll())

    async def park(self) -> asyncio.Task[Batch]:
        """Start the P-GET and make sure it is pending before the caller acts."""
        task = asyncio.create_task(self.poll())
        await asyncio.sleep(0.05)
        assert not task.done(), "the P-GET answered before anything happened"
        return task


async def timed(task: asyncio.Task[Batch]) -> tuple[Batch, float]:
    """Await a parked poll; also return how long it took from now."""
    start = time.monotonic()
    body = await task
    return body, time.monotonic() - start


async def make_available(helpers: Helpers, who: Session) -> None:
    response = await helpers.client.post(
        who.link("me", "makeMeAvailable"),
        json={"SupportedModalities": ["Messaging"]},
        headers=who.headers,
    )
    assert response.status_code == 204, response.text


async def start_messaging(
    helpers: Helpers, who: Session, to: str, text: str = "Hi Alice", op: str = "op-1"
) -> httpx.Response:
    response = await helpers.client.post(
        who.link("communication", "startMessaging"),
        json={
            "operationId": op,
            "to": to,
            "_links": {"message": {"href": f"data:text/plain;charset=utf-8,{text}"}},
        },
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return response


async def high_event(helpers: Helpers, who: Session, op: str = "op-x") -> None:
    """Cheap High events for one user: an invitation to Tosh, who never made himself available
    (started, conversation added, messaging updated, completed Failure, conversation deleted)."""
    await start_messaging(helpers, who, "sip:tosh@contoso.com", "ping", op)
