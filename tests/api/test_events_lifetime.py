"""An application's lifetime as its peers and its event channel see it (spec §2.3.3: expiry
after a time "without any request and without a parked P-GET", DELETE tears down every
conversation; EventsInUCWA.md: after inactivity the server "closes all conversations";
deviation 12). Housekeeping is run by hand; the FakeClock moves time."""

from __future__ import annotations

import asyncio

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.services.housekeeping import run_once
from tests.api.im_support import (
    Channel,
    Pair,
    Read,
    Side,
    connected,
    inner,
    invitation_body,
    kinds,
    make_available,
    one,
    send,
    start,
)
from tests.conftest import Helpers

AVAILABLE_IDLE = 3600  # OPENUCWA_APP_AVAILABLE_IDLE_TIMEOUT: alice made herself available
BILL_IDLE = 600  # OPENUCWA_APP_IDLE_TIMEOUT: bill did not
STEP = 590  # bill (not available, 600 s) stays active with a request every STEP seconds


async def keep_bill_alive_until_alice_expires(
    helpers: Helpers, pair: Pair, clock: FakeClock
) -> None:
    for _ in range(AVAILABLE_IDLE // STEP + 1):
        clock.advance(STEP)
        bill = await helpers.client.get(pair.bill.who.app_href, headers=pair.bill.who.headers)
        assert bill.status_code == 200, bill.text
    gone = await helpers.client.get(pair.alice.who.app_href, headers=pair.alice.who.headers)
    assert gone.status_code == 410, gone.text


async def assert_peer_left(helpers: Helpers, side: Side) -> Read:
    """The conversation ended for ``side`` as when the other person leaves: the communication
    sender first, ``conversation deleted`` with reason Ended; sending is refused."""
    read = await side.channel.expect(("conversation", "deleted"))
    assert kinds(read)[0] == ("communication", "conversation", "deleted"), kinds(read)
    deleted = one(read, "conversation", "deleted")
    assert deleted["reason"]["subcode"] == "Ended"
    assert inner(deleted)["state"] == "Disconnected"
    assert inner(one(read, "messaging", "updated"))["state"] == "Disconnected"
    late = await send(helpers, side, "are you there?")
    assert late.status_code == 409, late.text
    return read


async def test_an_expired_application_leaves_its_conversations_at_the_next_housekeeping(
    helpers: Helpers, clock: FakeClock, built: Built
) -> None:
    pair = await connected(helpers)
    await keep_bill_alive_until_alice_expires(helpers, pair, clock)
    assert (await send(helpers, pair.bill, "before housekeeping")).status_code == 201
    await pair.bill.channel.expect(("message", "completed"))
    done = await run_once(built.jobs)
    assert done["expire_idle_applications"] == 1  # alice left; nobody was purged yet
    await assert_peer_left(helpers, pair.bill)
    # Still 410 until the purge, and the next runs do not make her leave again.
    gone = await helpers.client.get(pair.alice.who.app_href, headers=pair.alice.who.headers)
    assert gone.status_code == 410
    assert (await run_once(built.jobs))["expire_idle_applications"] == 0
    await pair.bill.channel.quiet()


async def test_the_same_endpoint_signing_in_again_leaves_the_old_conversations(
    helpers: Helpers, clock: FakeClock
) -> None:
    pair = await connected(helpers)
    await keep_bill_alive_until_alice_expires(helpers, pair, clock)
    again = await helpers.session("alice")  # the same endpointId: a new application
    assert again.app_href != pair.alice.who.app_href
    await assert_peer_left(helpers, pair.bill)
    old = await helpers.client.get(pair.alice.who.app_href, headers=pair.alice.who.headers)
    assert old.status_code == 404, old.text
    events = await helpers.client.get(pair.alice.channel.next, headers=again.headers)
    assert events.status_code == 404, events.text
    conversations = await helpers.client.get(
        again.link("communication", "conversations"), headers=again.headers
    )
    assert conversations.json()["_links"].get("conversation", []) == []


async def test_a_held_pget_keeps_the_application_alive(
    helpers: Helpers, clock: FakeClock, built: Built
) -> None:
    """§2.3.3: expiry comes "without any request and without a parked P-GET". A hold longer
    than the idle timeout (the clock jumps while bill's P-GET is held) keeps bill's application:
    requests meanwhile are served, housekeeping leaves it alone, and the end of the hold counts
    as activity."""
    pair = await connected(helpers)
    bill = pair.bill.who
    held = asyncio.create_task(helpers.client.get(pair.bill.channel.next, headers=bill.headers))
    await asyncio.sleep(0.05)
    clock.advance(BILL_IDLE + 1)
    assert (await run_once(built.jobs))["expire_idle_applications"] == 0
    me = await helpers.client.get(bill.link("me", "self"), headers=bill.headers)
    assert me.status_code == 200, me.text
    assert not held.done()
    response = await held
    assert response.status_code == 200, response.text
    pair.bill.channel.next = response.json()["_links"]["next"]["href"]
    await pair.alice.channel.quiet()  # the conversation goes on
    assert (await send(helpers, pair.alice, "still there?")).status_code == 201
    assert await pair.bill.channel.expect(("message", "completed"))


async def test_the_end_of_a_hold_counts_as_activity(helpers: Helpers, clock: FakeClock) -> None:
    bill = await helpers.session("bill")
    href = bill.link("events")
    held = asyncio.create_task(helpers.client.get(href, headers=bill.headers))
    await asyncio.sleep(0.05)
    clock.advance(BILL_IDLE - 1)  # a hold almost as long as the idle timeout
    response = await held  # at the hold cap
    assert response.status_code == 200, response.text
    clock.advance(BILL_IDLE - 1)  # idle since the hold ended, not since it began
    again = await helpers.client.get(
        response.json()["_links"]["next"]["href"], headers=bill.headers
    )
    assert again.status_code == 200, again.text


async def test_a_held_pget_keeps_the_application_for_its_endpoint(
    helpers: Helpers, clock: FakeClock
) -> None:
    """The same endpoint signing in while its application holds a P-GET past the idle timeout
    gets that application back, not a new one (nothing expired)."""
    pair = await connected(helpers)
    alice = pair.alice.who
    held = asyncio.create_task(helpers.client.get(pair.alice.channel.next, headers=alice.headers))
    await asyncio.sleep(0.05)
    clock.advance(AVAILABLE_IDLE + 1)
    again = await helpers.session("alice")
    assert again.app_href == alice.app_href
    assert not held.done()
    assert (await held).status_code == 200


async def test_an_application_holding_a_pget_past_its_idle_timeout_is_still_invited(
    helpers: Helpers, clock: FakeClock
) -> None:
    """An available application whose P-GET is held longer than the available idle timeout
    (possible when OPENUCWA_MAX_EVENT_WAIT is set above it) is alive, so it is invited: its
    held P-GET answers with the invitation. Before, the invitation failed at once as
    TemporarilyUnavailable."""
    alice = await helpers.session("alice")
    await make_available(helpers, alice)
    alice_channel = Channel(helpers, alice)
    await alice_channel.poll()  # the events of makeMeAvailable
    held = asyncio.create_task(helpers.client.get(alice_channel.next, headers=alice.headers))
    await asyncio.sleep(0.05)
    clock.advance(AVAILABLE_IDLE + 1)
    bill = await helpers.session("bill")
    response = await start(helpers, bill, invitation_body())
    assert response.status_code == 201, response.text
    answered = await held
    assert answered.status_code == 200, answered.text
    invited = [
        (e["link"]["rel"], e["type"])
        for sender in answered.json()["sender"]
        for e in sender["events"]
    ]
    assert ("messagingInvitation", "started") in invited
