"""Retention (OPENUCWA_EVENT_RETENTION, 3 h) as a client sees it: events trimmed before an
application received them are never lost silently. The answer is ``resync`` (operations.md: "a
client acknowledging older batches gets resync"; EventChannelDetails.md "Special responses"),
and following the resync link starts afresh from the present, without coming back to resync.
An application that lost nothing is not bothered. Housekeeping is run by hand; the FakeClock
ages the events while requests keep the applications alive."""

from __future__ import annotations

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.services.housekeeping import run_once
from tests.api.events_support import (
    Channel,
    ack_of,
    check_batch,
    check_resync,
    flat,
    high_event,
    one,
)
from tests.conftest import Helpers, Session

RETENTION = 3 * 3600
STEP = 590  # a request this often keeps an application alive (idle timeout 600 s)


async def outlive_retention(
    helpers: Helpers, clock: FakeClock, built: Built, *alive: Session
) -> None:
    """Age every event beyond the retention, keeping ``alive`` alive, then run housekeeping."""
    for _ in range(RETENTION // STEP + 1):
        clock.advance(STEP)
        for who in alive:
            response = await helpers.client.get(who.app_href, headers=who.headers)
            assert response.status_code == 200, response.text
    assert (await run_once(built.jobs))["trim_event_log"] > 0


async def test_events_trimmed_before_they_were_fetched_answer_resync(
    helpers: Helpers, clock: FakeClock, built: Built
) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    b_chan, a_chan = Channel(helpers, bill), Channel(helpers, alice)
    await high_event(helpers, bill)  # never fetched by bill
    await high_event(helpers, alice, "op-a")
    assert check_batch(await a_chan.poll()) == 1  # fetched by alice
    await outlive_retention(helpers, clock, built, bill, alice)

    # Bill lost his events: resync, and the same answer each time he asks again.
    resync = await b_chan.get()
    check_resync(resync, 2)
    assert (await b_chan.get()).content == resync.content
    # Following the link starts afresh: the next batch, and nothing of the past.
    await high_event(helpers, bill, "op-2")
    b_chan.href = resync.json()["_links"]["resync"]["href"]
    fresh = await b_chan.poll()
    assert check_batch(fresh) == 2
    assert len(flat(fresh)) == 6  # one failed invitation: op-2's
    assert (
        one(fresh, "messagingInvitation", "started")["_embedded"]["messagingInvitation"][
            "operationId"
        ]
        == "op-2"
    )
    await high_event(helpers, bill, "op-3")
    assert check_batch(await b_chan.poll()) == 3  # and so on, never resync again

    # Alice's trimmed events were all received: she goes on as before.
    await high_event(helpers, alice, "op-a2")
    assert check_batch(await a_chan.poll()) == 2


async def test_a_delivered_batch_whose_events_were_trimmed_answers_resync(
    helpers: Helpers, clock: FakeClock, built: Built
) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    await high_event(helpers, bill)
    first = await channel.poll()  # delivered, never acknowledged
    assert flat(first)
    await outlive_retention(helpers, clock, built, bill)
    again = await channel.get(first["_links"]["self"]["href"])  # a retransmission is asked for
    check_resync(again, 3)  # batch 2 records the resync; batch 3 starts afresh
    target = again.json()["_links"]["resync"]["href"]
    assert ack_of(target) == 3
    check_resync(await channel.get(target.replace("ack=3", "ack=2")), 3)
    await high_event(helpers, bill, "op-2")
    channel.href = target
    assert check_batch(await channel.poll()) == 3


async def test_a_quiet_application_is_not_resynced(
    helpers: Helpers, clock: FakeClock, built: Built
) -> None:
    """Retention trims other applications' events; one that had none, or received its own,
    is not told to resync."""
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await high_event(helpers, bill)
    await outlive_retention(helpers, clock, built, bill, alice)
    a_chan = Channel(helpers, alice)
    await high_event(helpers, alice)
    assert check_batch(await a_chan.poll()) == 1
