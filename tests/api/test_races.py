"""Races a client can cause with two requests at once, each settled the way one after the
other would be (found by an audit over real HTTP; here the two requests are started together
in-process, which interleaves them at their first write). Spec: §2.3 (DELETE application is
final), §2.7.1 and E7 (If-Match: one winner, 412 for the rest), §2.11 (ending a conversation,
each invitation completes once)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

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


@pytest.mark.parametrize("swap", ORDERS)
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


@pytest.mark.parametrize("swap", ORDERS)
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


@pytest.mark.parametrize("swap", ORDERS)
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
