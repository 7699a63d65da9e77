"""Event-channel mechanics as a client sees them (spec §2.4.1-2.4.5, §3.10 a-g, §5 E30-E32,
E44): numbered and retransmitted batches, resync, PGetReplaced, priorities, parameters, errors.
Every hold is bounded by the 1 s ``max_event_wait`` of the test settings."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import orjson
import pytest

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from tests.api.events_support import (
    CAP,
    QUICK,
    Channel,
    ack_of,
    check_batch,
    check_resync,
    flat,
    high_event,
    make_available,
    one,
    timed,
)
from tests.conftest import Helpers, Session

FAILED_INVITATION = [
    ("communication", "messagingInvitation", "started"),
    ("communication", "conversation", "added"),
    ("conversation", "localParticipant", "added"),
    ("conversation", "messaging", "updated"),
    ("communication", "messagingInvitation", "completed"),
    ("communication", "conversation", "deleted"),
]


async def test_nothing_happens_empty_numbered_batch_then_identical_retransmission(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    assert ack_of(bill.link("events")) == 1
    channel = Channel(helpers, bill)
    start = time.monotonic()
    body = await channel.poll()
    assert CAP - 0.05 < time.monotonic() - start < CAP + 2  # held until the cap, not forever
    assert body["sender"] == []
    assert ack_of(body["_links"]["self"]["href"]) == 1
    assert ack_of(body["_links"]["next"]["href"]) == 2  # an empty batch consumes a number
    start = time.monotonic()
    again = await channel.get(body["_links"]["self"]["href"])
    assert time.monotonic() - start < QUICK  # a retransmission is not held
    assert again.status_code == 200
    assert again.content == (await channel.get(body["_links"]["self"]["href"])).content
    assert again.json() == body


async def test_batches_retransmitted_identically_until_acknowledged(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    await high_event(helpers, bill, "op-1")
    first = await channel.poll()
    assert flat(first) == FAILED_INVITATION
    failed = one(first, "messagingInvitation", "completed")
    assert failed["status"] == "Failure"
    assert failed["reason"]["code"] == "RemoteFailure"
    raw = await channel.get(first["_links"]["self"]["href"])
    assert raw.json() == first
    await high_event(helpers, bill, "op-2")
    second = await channel.poll()  # acknowledges batch 1
    assert flat(second) == FAILED_INVITATION  # nothing of batch 1 again
    assert (
        one(second, "messagingInvitation", "started")["link"]["href"]
        != one(first, "messagingInvitation", "started")["link"]["href"]
    )
    assert (await channel.get(second["_links"]["self"]["href"])).content == (
        await channel.get(second["_links"]["self"]["href"])
    ).content
    await high_event(helpers, bill, "op-3")
    third = await channel.poll()  # acknowledges batch 2
    for stale in (first, second):
        check_resync(await channel.get(stale["_links"]["self"]["href"]), 3)
    replay = await channel.get(third["_links"]["self"]["href"])
    assert replay.json() == third
    # E44: without ack, the first unacknowledged batch
    bare = urlsplit(channel.href)._replace(query="").geturl()
    assert (await channel.get(bare)).json() == third


@pytest.mark.parametrize("ack", ["99", "abc", "0", "-1", "", "2.0", "%C2%B2", "1" * 30])
async def test_garbage_or_future_ack_answers_resync_at_once(helpers: Helpers, ack: str) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    path = urlsplit(channel.href).path
    start = time.monotonic()
    check_resync(await channel.get(f"{path}?ack={ack}"), 1)
    assert time.monotonic() - start < QUICK
    await high_event(helpers, bill)
    await channel.poll()
    await high_event(helpers, bill, "op-2")
    await channel.poll()  # batch 2 is the oldest retained
    check_resync(await channel.get(f"{path}?ack={ack}"), 2)


async def test_without_ack_a_fresh_channel_starts_at_batch_one(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    await high_event(helpers, bill)
    bare = urlsplit(bill.link("events"))._replace(query="").geturl()
    response = await helpers.client.get(bare, headers=bill.headers)
    assert response.status_code == 200, response.text
    assert check_batch(response.json()) == 1
    assert flat(response.json()) == FAILED_INVITATION


async def test_second_pget_for_the_same_ack_replaces_the_first(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    first = asyncio.create_task(channel.get())
    await asyncio.sleep(0.05)
    second = asyncio.create_task(channel.get())
    await asyncio.sleep(0.05)
    assert first.done(), "the replaced P-GET must be answered at once"
    replaced = first.result()
    assert replaced.status_code == 409
    assert replaced.json()["code"] == "Conflict"
    assert replaced.json()["subcode"] == "PGetReplaced"
    assert not second.done()
    await high_event(helpers, bill)
    won = await second
    assert won.status_code == 200, won.text
    assert check_batch(won.json()) == 1
    assert flat(won.json()) == FAILED_INVITATION


async def test_priority_lower_is_refused_higher_replaces(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    first = asyncio.create_task(channel.get(f"{channel.href}&priority=2"))
    await asyncio.sleep(0.05)
    refused = await channel.get(f"{channel.href}&priority=1")
    assert refused.status_code == 409, refused.text
    assert refused.json()["subcode"] == "PGetReplaced"
    await asyncio.sleep(0.05)
    assert not first.done(), "a lower priority must not replace a higher one"
    third = asyncio.create_task(channel.get(f"{channel.href}&priority=3&timeout=900"))
    await asyncio.sleep(0.05)
    assert first.done()
    assert first.result().status_code == 409
    assert first.result().json()["subcode"] == "PGetReplaced"
    await high_event(helpers, bill)
    won = await third
    assert won.status_code == 200, won.text
    assert flat(won.json()) == FAILED_INVITATION


async def test_high_releases_at_once_medium_is_held(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    parked = await channel.park()
    await high_event(helpers, bill)
    body, waited = await timed(parked)
    assert waited < QUICK
    assert flat(body) == FAILED_INVITATION
    start = time.monotonic()
    parked = await channel.park()
    await make_available(helpers, bill)
    body = await parked
    assert time.monotonic() - start > CAP - 0.05  # the hold began after ``start``
    assert [e[1] for e in flat(body)] == ["communication", "me", "presence", "note", "location"]


async def poll_with(helpers: Helpers, who: Session, query: str) -> tuple[int, float, str]:
    start = time.monotonic()
    response = await helpers.client.get(f"{who.link('events')}&{query}", headers=who.headers)
    return response.status_code, time.monotonic() - start, response.text


async def test_parameters_are_clamped_never_500(helpers: Helpers) -> None:
    queries = ["timeout=-5", "timeout=999999", "medium=1", "low=0", "priority=2", "TIMEOUT=200"]
    sessions = [await helpers.session("bill", f"endpoint-{n}") for n in range(len(queries))]
    answers = await asyncio.gather(
        *(poll_with(helpers, s, q) for s, q in zip(sessions, queries, strict=True))
    )
    for query, (status, waited, text) in zip(queries, answers, strict=True):
        assert status == 200, (query, text)
        assert CAP - 0.05 < waited < CAP + 2, (query, waited)  # clamped into range, then capped


@pytest.mark.parametrize("query", ["low=abc", "medium=x", "timeout=nan", "priority=", "low=1e999"])
async def test_non_numeric_parameters_are_400(helpers: Helpers, query: str) -> None:
    bill = await helpers.session("bill")
    status, waited, text = await poll_with(helpers, bill, query)
    assert status == 400, text
    assert waited < QUICK
    assert '"ParameterValidationFailure"' in text


async def test_unknown_application_and_someone_elses_are_404(helpers: Helpers) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await high_event(helpers, bill)  # Bill has events; Alice must never see them
    href = bill.link("events")
    unknown = href.replace(bill.app_href, bill.app_href.rsplit("/", 1)[0] + "/999999999")
    for who, url in ((bill, unknown), (alice, href)):
        response = await helpers.client.get(url, headers=who.headers)
        assert response.status_code == 404, response.text
        assert response.json()["subcode"] == "ApplicationNotFound"
        assert "messagingInvitation" not in response.text
    mine = await helpers.client.get(href, headers=bill.headers)
    assert flat(mine.json()) == FAILED_INVITATION  # still there for Bill


async def test_no_token_is_a_401_challenge(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    response = await helpers.client.get(bill.link("events"))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert 'MsRtcOAuth href="' in challenge, challenge
    assert "/WebTicket/oauthtoken" in challenge and "grant_type=" in challenge


async def test_expired_application_is_410(helpers: Helpers, clock: FakeClock) -> None:
    bill = await helpers.session("bill")
    clock.advance(601)
    response = await helpers.client.get(bill.link("events"), headers=bill.headers)
    assert response.status_code == 410, response.text
    assert response.json()["code"] == "Gone"
    assert response.json()["subcode"] == "InactiveApplicationExpired"


async def test_deleting_the_application_releases_its_pget_with_404(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    parked = asyncio.create_task(channel.get())
    await asyncio.sleep(0.05)
    assert not parked.done()
    deleted = await helpers.client.delete(bill.app_href, headers=bill.headers)
    assert deleted.status_code == 204, deleted.text
    start = time.monotonic()
    response = await parked
    assert time.monotonic() - start < QUICK
    assert response.status_code == 404, response.text
    assert response.json()["subcode"] == "ApplicationNotFound"
    after = await channel.get()
    assert after.status_code == 404


@pytest.mark.parametrize("query", ["", "&ack=1", "&ack=2&timeout=900&priority=9"])
async def test_head_on_events_is_405_and_leaves_the_channel_alone(
    helpers: Helpers, query: str
) -> None:
    """HTTP.md: UCWA does not support HEAD. A HEAD (a monitoring probe, a proxy) must not
    replace the held P-GET, be held itself, or acknowledge a batch."""
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    await high_event(helpers, bill)
    first = await channel.poll()  # batch 1, not yet acknowledged
    parked = await channel.park()  # batch 2 held
    start = time.monotonic()
    head = await helpers.client.head(channel.href + query, headers=bill.headers)
    assert time.monotonic() - start < QUICK  # answered at once, not held
    assert head.status_code == 405
    assert head.headers["allow"] == "GET"
    assert head.headers["content-type"].startswith("application/json")
    assert head.content == b""
    await asyncio.sleep(0.05)
    assert not parked.done(), "the HEAD replaced the held P-GET"
    await high_event(helpers, bill, "op-2")
    second, waited = await timed(parked)
    assert waited < QUICK
    assert flat(second) == FAILED_INVITATION
    retransmitted = await channel.get(second["_links"]["self"]["href"])
    assert retransmitted.json() == second  # batch 2 was not acknowledged by the HEAD
    check_resync(await channel.get(first["_links"]["self"]["href"]), 2)


async def test_other_methods_on_events_allow_only_get(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    response = await helpers.client.post(bill.link("events"), headers=bill.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["code"] == "MethodNotAllowed"


async def test_a_refused_lower_priority_pget_does_not_change_the_remembered_settings(
    helpers: Helpers, clock: FakeClock
) -> None:
    """events_ref.md: a lower priority does not replace a higher one; EventChannelDetails.md:
    the parameters are remembered for the next P-GET. A refused P-GET's are not."""
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    held = asyncio.create_task(channel.get(f"{channel.href}&priority=5"))
    await asyncio.sleep(0.05)
    refused = await channel.get(f"{channel.href}&priority=1&medium=1800&low=1800")
    assert refused.status_code == 409, refused.text
    assert refused.json()["subcode"] == "PGetReplaced"
    assert (await held).status_code == 200  # batch 1, empty, at the hold cap
    channel.href = (await held).json()["_links"]["next"]["href"]
    await make_available(helpers, bill)  # Medium events
    clock.advance(10)  # older than the remembered medium (5 s), younger than 1800 s
    body, waited = await timed(asyncio.create_task(channel.poll()))
    assert waited < QUICK, "the refused P-GET's medium=1800 was remembered"
    assert flat(body)[0] == ("communication", "communication", "updated")


async def test_a_token_revoked_while_held_gets_nothing(helpers: Helpers, built: Built) -> None:
    """Revoking a token (users passwd / users remove) ends what it can read: a P-GET held
    on it when the revocation came answers 401, not the events that arrived since."""
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    await make_available(helpers, bill)
    channel = Channel(helpers, bill)
    await channel.poll()  # the makeMeAvailable batch
    held = asyncio.create_task(channel.get())
    await asyncio.sleep(0.05)
    assert not held.done()
    assert await built.services.tokens.revoke(bill.token)
    secret = {"href": "data:text/plain;charset=utf-8,post-revocation+secret"}
    started = await helpers.client.post(
        alice.link("communication", "startMessaging"),
        json={"to": "sip:bmauldin@contoso.com", "_links": {"message": secret}},
        headers=alice.headers,
    )
    assert started.status_code == 201, started.text
    answer = await asyncio.wait_for(held, QUICK)
    assert answer.status_code == 401 and b"secret" not in answer.content
    assert "MsRtcOAuth" in answer.headers["www-authenticate"]
    # Signed in again, the same ack brings the batch that was withheld.
    again = Session(token=await helpers.token("bill"), app=bill.app)
    batch = (await Channel(helpers, again).get(channel.href)).json()
    assert b"post-revocation" in orjson.dumps(batch)
