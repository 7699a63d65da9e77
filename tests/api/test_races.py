"""Races a client can cause with two requests at once, each settled the way one after the
other would be (found by an audit over real HTTP; here the two requests are started together
in-process, which interleaves them at their first write). Spec: §2.3 (DELETE application is
final), §2.7.1 and E7 (If-Match: one winner, 412 for the rest), §2.11 (ending a conversation,
each invitation completes once)."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import httpx
import pytest

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.settings import Settings
from openucwa.storage.sql.engine import sqlite_path
from tests.api.im_support import (
    Channel,
    connected,
    events,
    href,
    invitation_body,
    invite,
    kinds,
    make_available,
    start,
)
from tests.api.meetings_support import created, self_href
from tests.conftest import Helpers, Session

ORDERS = [pytest.param(False, id="delete-first"), pytest.param(True, id="delete-second")]
EITHER_ORDER = [pytest.param(False, id="as-written"), pytest.param(True, id="swapped")]


async def both(first: Any, second: Any, swap: bool) -> tuple[httpx.Response, httpx.Response]:
    """Start ``first`` and ``second`` together (``swap``: the other way round); their answers
    in the order given."""
    if swap:
        b, a = await asyncio.gather(second, first)
    else:
        a, b = await asyncio.gather(first, second)
    return a, b


async def assert_gone_and_replaceable(helpers: Helpers, who: Session) -> None:
    gone = await helpers.client.get(who.app_href, headers=who.headers)
    assert gone.status_code == 404, f"the deleted application came back: {gone.text}"


@pytest.mark.parametrize("swap", ORDERS)
async def test_make_me_available_does_not_bring_back_a_deleted_application(
    helpers: Helpers, swap: bool
) -> None:
    bill = await helpers.session("bill")
    deleted, made = await both(
        helpers.client.delete(bill.app_href, headers=bill.headers),
        helpers.client.post(bill.link("me", "makeMeAvailable"), json={}, headers=bill.headers),
        swap,
    )
    assert deleted.status_code == 204, deleted.text
    assert made.status_code in (204, 404), made.text
    await assert_gone_and_replaceable(helpers, bill)


@pytest.mark.parametrize("swap", ORDERS)
async def test_a_communication_put_does_not_bring_back_a_deleted_application(
    helpers: Helpers, swap: bool
) -> None:
    bill = await helpers.session("bill")
    href_ = bill.link("communication", "self")
    got = await helpers.client.get(href_, headers=bill.headers)
    headers = {**bill.headers, "If-Match": got.headers["etag"]}
    deleted, put = await both(
        helpers.client.delete(bill.app_href, headers=bill.headers),
        helpers.client.put(href_, json=got.json(), headers=headers),
        swap,
    )
    assert deleted.status_code == 204, deleted.text
    assert put.status_code in (200, 404), put.text
    await assert_gone_and_replaceable(helpers, bill)


async def test_communication_puts_with_one_if_match_have_one_winner(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    href_ = bill.link("communication", "self")
    got = await helpers.client.get(href_, headers=bill.headers)
    headers = {**bill.headers, "If-Match": got.headers["etag"]}
    bodies = [{**got.json(), "phoneNumber": f"tel:+1425555000{i}"} for i in range(3)]
    answers = await asyncio.gather(
        *(helpers.client.put(href_, json=body, headers=headers) for body in bodies)
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 412, 412], [a.text for a in answers]
    (won,) = [a for a in answers if a.status_code == 200]
    now = await helpers.client.get(href_, headers=bill.headers)
    assert now.headers["etag"] == won.headers["etag"]
    assert now.json()["phoneNumber"] == won.json()["phoneNumber"]


async def test_both_people_signing_out_at_once_both_succeed(helpers: Helpers) -> None:
    pair = await connected(helpers)
    bill, alice = pair.bill.who, pair.alice.who
    answers = await asyncio.gather(
        helpers.client.delete(bill.app_href, headers=bill.headers),
        helpers.client.delete(alice.app_href, headers=alice.headers),
    )
    assert [a.status_code for a in answers] == [204, 204], [a.text for a in answers]
    for who in (bill, alice):
        await assert_gone_and_replaceable(helpers, who)


async def test_both_people_stopping_messaging_at_once_both_succeed(helpers: Helpers) -> None:
    pair = await connected(helpers)
    answers = await asyncio.gather(
        *(
            helpers.client.post(
                href(side.messaging or {}, "stopMessaging"), headers=side.who.headers
            )
            for side in (pair.bill, pair.alice)
        )
    )
    assert [a.status_code for a in answers] == [204, 204], [a.text for a in answers]


@pytest.mark.parametrize("swap", [False, True])
async def test_signing_out_while_the_other_accepts_is_not_a_conflict(
    helpers: Helpers, swap: bool
) -> None:
    pair = await invite(helpers)
    bill = pair.bill.who
    deleted, accepted = await both(
        helpers.client.delete(bill.app_href, headers=bill.headers),
        helpers.client.post(href(pair.alice.invitation, "accept"), headers=pair.alice.who.headers),
        swap,
    )
    assert deleted.status_code == 204, deleted.text
    assert accepted.status_code in (204, 409), accepted.text
    await assert_gone_and_replaceable(helpers, bill)


async def test_a_local_decline_racing_an_accept_completes_once(helpers: Helpers) -> None:
    """Alice has two devices: one accepts while the other declines with reason Local. Each
    invitation completes once, whichever wins."""
    bill = await helpers.session("bill")
    alice1 = await helpers.session("alice", "endpoint-1")
    alice2 = await helpers.session("alice", "endpoint-2")
    for who in (alice1, alice2):
        await make_available(helpers, who)
    channels = [Channel(helpers, who) for who in (alice1, alice2)]
    for channel in channels:
        await channel.poll()
    assert (await start(helpers, bill, invitation_body())).status_code == 201
    wanted = (("messagingInvitation", "started"),)
    reads = [await channel.expect(*wanted) for channel in channels]
    invs = [
        next(e for rel, e in read if e["link"]["rel"] == "messagingInvitation")["_embedded"][
            "messagingInvitation"
        ]
        for read in reads
    ]
    accepted, declined = await asyncio.gather(
        helpers.client.post(href(invs[0], "accept"), headers=alice1.headers),
        helpers.client.post(
            href(invs[1], "decline"), json={"reason": "Local"}, headers=alice2.headers
        ),
    )
    assert accepted.status_code == 204, accepted.text
    assert declined.status_code in (204, 409), declined.text
    seen = []
    for _ in range(4):
        read = await channels[1].poll()
        seen += read
        if not read:
            break
    completed = events(seen, "messagingInvitation", "completed")
    assert len(completed) == 1, kinds(seen)
    assert len(events(seen, "conversation", "deleted")) == 1, kinds(seen)


@pytest.mark.parametrize("swap", ORDERS)
async def test_inviting_someone_who_signs_out_meanwhile_does_not_ring_nobody(
    helpers: Helpers, swap: bool, built: Any
) -> None:
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    await make_available(helpers, alice)
    deleted, started = await both(
        helpers.client.delete(alice.app_href, headers=alice.headers),
        start(helpers, bill, invitation_body()),
        swap,
    )
    assert deleted.status_code == 204, deleted.text
    assert started.status_code == 201, started.text
    invitation = await helpers.client.get(started.headers["location"], headers=bill.headers)
    # Failed (nobody to invite) or Cancelled (the one invited left): never still ringing.
    assert invitation.json()["state"] in ("Failed", "Cancelled"), invitation.json()["state"]
    rows = built.storage.db.fetch_all(
        "SELECT count(*) FROM conversations WHERE app_id NOT IN (SELECT app_id FROM applications)"
    )
    assert rows == [(0,)]


# -- scheduled meetings and their extensions (If-Match checked in the writing transaction) --


async def _meeting_with_extension(helpers: Helpers, who: Session) -> tuple[str, str, str]:
    """A new meeting's href and ETag, and the href of an extension of it."""
    meeting = await created(helpers, who, {"subject": "raced"})
    ext = await helpers.client.post(
        meeting["_links"]["onlineMeetingExtensions"]["href"],
        json={"id": "ext", "type": "Undefined", "size": 1},
        headers=who.headers,
    )
    assert ext.status_code == 201, ext.text
    return self_href(meeting), meeting["etag"], ext.headers["Location"]


@pytest.mark.parametrize("swap", EITHER_ORDER)
async def test_a_put_and_a_delete_with_one_if_match_have_one_winner(
    helpers: Helpers, swap: bool
) -> None:
    """Before, the DELETE checked the ETag it had read, and deleted the meeting the PUT had
    just changed (and acknowledged) under a new ETag the DELETE never saw."""
    bill = await helpers.session("bill")
    for _ in range(5):
        url, etag, _ext = await _meeting_with_extension(helpers, bill)
        headers = {**bill.headers, "If-Match": f'"{etag}"'}
        deleted, updated = await both(
            helpers.client.delete(url, headers=headers),
            helpers.client.put(url, json={"subject": "changed"}, headers=headers),
            swap,
        )
        outcomes = (deleted.status_code, updated.status_code)
        assert outcomes in ((204, 404), (204, 412), (412, 200)), outcomes


@pytest.mark.parametrize("swap", EITHER_ORDER)
async def test_an_extension_put_and_delete_with_one_if_match_have_one_winner(
    helpers: Helpers, swap: bool
) -> None:
    bill = await helpers.session("bill")
    for _ in range(5):
        _url, _etag, ext_url = await _meeting_with_extension(helpers, bill)
        ext = await helpers.client.get(ext_url, headers=bill.headers)
        headers = {**bill.headers, "If-Match": ext.headers["ETag"]}
        deleted, updated = await both(
            helpers.client.delete(ext_url, headers=headers),
            helpers.client.put(
                ext_url, json={"id": "ext", "type": "Undefined", "size": 2}, headers=headers
            ),
            swap,
        )
        outcomes = (deleted.status_code, updated.status_code)
        assert outcomes in ((204, 404), (204, 412), (412, 200)), outcomes


async def test_puts_with_if_match_star_all_succeed_at_once(helpers: Helpers) -> None:
    """``*`` matches whatever is stored (RFC 9110 §13.1.1); before, each PUT compared the
    ETag it had read, and all but one of those started together got 412."""
    bill = await helpers.session("bill")
    url, _etag, ext_url = await _meeting_with_extension(helpers, bill)
    star = {**bill.headers, "If-Match": "*"}
    puts = await asyncio.gather(
        *(helpers.client.put(url, json={"subject": f"s{i}"}, headers=star) for i in range(6)),
        *(
            helpers.client.put(ext_url, json={"type": "Undefined", "n": i}, headers=star)
            for i in range(6)
        ),
    )
    assert [p.status_code for p in puts] == [200] * 12, [p.text for p in puts]


@pytest.mark.parametrize("swap", EITHER_ORDER)
async def test_a_put_answered_beside_an_extension_write_shows_what_its_etag_shows(
    helpers: Helpers, swap: bool
) -> None:
    """Before, a PUT's answer was built from the meeting it read before an extension was
    added: the same ETag then named two different bodies, and If-None-Match with it got 304
    while the client's copy lacked the extension."""
    bill = await helpers.session("bill")
    for _ in range(5):
        meeting = await created(helpers, bill, {"subject": "raced"})
        url = self_href(meeting)
        headers = {**bill.headers, "If-Match": f'"{meeting["etag"]}"'}
        updated, added = await both(
            helpers.client.put(url, json={"subject": "changed"}, headers=headers),
            helpers.client.post(
                meeting["_links"]["onlineMeetingExtensions"]["href"],
                json={"type": "Undefined", "size": 1},
                headers=bill.headers,
            ),
            swap,
        )
        assert (updated.status_code, added.status_code) == (200, 201)
        revalidated = await helpers.client.get(
            url, headers={**bill.headers, "If-None-Match": updated.headers["ETag"]}
        )
        if revalidated.status_code == 304:  # the PUT's answer is what the ETag names now
            current = await helpers.client.get(url, headers=bill.headers)
            assert current.headers["ETag"] == updated.headers["ETag"]
            assert current.json() == updated.json()
        else:
            assert revalidated.status_code == 200, revalidated.text


# -- instant messaging and applications --------------------------------------------------


@pytest.mark.parametrize("swap", EITHER_ORDER)
async def test_typing_ends_with_the_conversation_it_raced(helpers: Helpers, swap: bool) -> None:
    """Before, a setIsTyping committed while the hang-up waited for its commit set a timer
    nothing cancelled: the ended conversation listed the typist for 6 s."""
    pair = await connected(helpers)
    assert pair.bill.messaging is not None and pair.alice.messaging is not None
    typed, stopped = await both(
        helpers.client.post(
            href(pair.bill.messaging, "setIsTyping"), headers=pair.bill.who.headers
        ),
        helpers.client.post(
            href(pair.alice.messaging, "stopMessaging"), headers=pair.alice.who.headers
        ),
        swap,
    )
    assert stopped.status_code == 204, stopped.text
    assert typed.status_code in (204, 409), typed.text
    listed = await helpers.client.get(
        href(pair.alice.messaging, "typingParticipants"), headers=pair.alice.who.headers
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["_links"].get("participant", []) == []
    late = await helpers.client.post(
        href(pair.bill.messaging, "setIsTyping"), headers=pair.bill.who.headers
    )
    assert late.status_code == 409, late.text


async def test_invitations_started_together_keep_to_the_bound_of_unanswered(
    helpers: Helpers,
) -> None:
    """At the default bound (16): 40 started at once leave at most 16 unanswered."""
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    await make_available(helpers, alice)
    answers = await asyncio.gather(
        *(start(helpers, bill, invitation_body(op=f"op-{i}")) for i in range(40))
    )
    codes = [a.status_code for a in answers]
    assert codes.count(201) == 16 and codes.count(409) == 24, codes


@pytest.mark.parametrize("swap", EITHER_ORDER)
@pytest.mark.parametrize("request_kind", ["events", "reportMyActivity"])
async def test_a_request_racing_the_delete_of_its_application_is_not_served(
    helpers: Helpers, clock: FakeClock, request_kind: str, swap: bool
) -> None:
    """A request that must record activity (the last one was over 30 s ago) waited for that
    write after finding the application; a DELETE finishing meanwhile left it to be served
    for an application that no longer existed (a P-GET got resync or a full hold; a batch
    row stayed behind)."""
    bill = await helpers.session("bill")
    clock.advance(45)
    target = (
        helpers.client.get(bill.link("events"), headers=bill.headers)
        if request_kind == "events"
        else helpers.client.post(f"{bill.app_href}/reportMyActivity", headers=bill.headers)
    )
    deleted, raced = await both(
        helpers.client.delete(bill.app_href, headers=bill.headers), target, swap
    )
    assert deleted.status_code == 204, deleted.text
    # Before the DELETE (204), or after it: 404, never a batch or a 204 for a deleted one.
    assert raced.status_code in ((404,) if request_kind == "events" else (204, 404)), raced.text
    if raced.status_code == 404:
        assert raced.json()["subcode"] == "ApplicationNotFound"


async def test_housekeeping_does_not_expire_an_application_while_its_request_is_recorded(
    built: Built, helpers: Helpers, clock: FakeClock, settings: Settings
) -> None:
    """A request checked the application 1 s before its expiry and then waited to record its
    activity (here: another process holds the write lock). Before, housekeeping expired the
    application from its older read meanwhile: the request got 204, the application lived on,
    and its conversation had ended (and it never left its later ones when it expired for
    real)."""
    pair = await connected(helpers)
    bill, alice = pair.bill.who, pair.alice.who
    await make_available(helpers, bill)
    idle = built.services.applications.lifetime.idle_when_available.total_seconds()
    clock.advance(idle - 1)
    assert (await helpers.client.get(bill.app_href, headers=bill.headers)).status_code == 200
    other = sqlite3.connect(sqlite_path(settings.database), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        report = asyncio.create_task(
            helpers.client.post(f"{alice.app_href}/reportMyActivity", headers=alice.headers)
        )
        await asyncio.sleep(0.1)  # it found the application alive; its write waits
        clock.advance(2)  # now past the expiry of the activity recorded before
        expiry = asyncio.create_task(built.jobs["expire_idle_applications"]())
        await asyncio.sleep(0.1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (await report).status_code == 204
    await expiry
    assert (await helpers.client.get(alice.app_href, headers=alice.headers)).status_code == 200
    conversation = await helpers.client.get(pair.alice.conversation, headers=alice.headers)
    assert conversation.json()["state"] == "Connected", conversation.text
