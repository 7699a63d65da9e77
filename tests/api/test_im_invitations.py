"""Invitations that are not simply accepted: no answer after a restart (housekeeping ends them),
declining with a reason, and one of the invitee's devices going away while others still ring.
Spec: UCWA-MEETINGS.md §2.0.4, §2.11.2, §3.9; decline_ref.md, CallDeclineReason_ref.md;
docs/deviations.md 16."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.services.housekeeping import run_once
from tests.api.im_support import (
    Channel,
    Side,
    assert_error,
    href,
    inner,
    invitation_body,
    invite,
    make_available,
    one,
    start,
)
from tests.conftest import Helpers


async def test_housekeeping_ends_invitations_whose_timer_a_restart_lost(
    helpers: Helpers, clock: FakeClock, built: Built
) -> None:
    pair = await invite(helpers)  # the timer (30 s of the event loop) is not reached here
    clock.advance(29)
    assert (await run_once(built.jobs))["expire_unanswered_invitations"] == 0
    await pair.bill.channel.quiet()
    clock.advance(2)
    assert (await run_once(built.jobs))["expire_unanswered_invitations"] == 1
    for side, reason in (
        (pair.bill, ("RemoteFailure", "Timeout")),
        (pair.alice, ("Informational", "Missed")),
    ):
        read = await side.channel.expect(
            ("messagingInvitation", "completed"), ("conversation", "deleted")
        )
        done = one(read, "messagingInvitation", "completed")
        assert done["status"] == "Failure"
        assert (done["reason"]["code"], done["reason"].get("subcode")) == reason
        assert inner(done)["state"] == "Failed"
    assert (await run_once(built.jobs))["expire_unanswered_invitations"] == 0
    late = await helpers.client.post(
        href(pair.alice.invitation, "accept"), headers=pair.alice.who.headers
    )
    assert late.status_code == 409, late.text


# -- decline's reason, and one device of several going away ----------------------------------


@dataclass
class Ringing:
    """Bill invites alice, who has two available applications (devices)."""

    bill: Side
    devices: list[Side]  # alice's two applications


async def ring_two_devices(helpers: Helpers) -> Ringing:
    bill = await helpers.session("bill")
    alices = [await helpers.session("alice", f"endpoint-{n}") for n in (1, 2)]
    for alice in alices:
        await make_available(helpers, alice)
    channels = [Channel(helpers, who) for who in (bill, *alices)]
    response = await start(helpers, bill, invitation_body())
    assert response.status_code == 201, response.text
    sides = []
    for who, channel in zip((bill, *alices), channels, strict=True):
        read = await channel.expect(("messagingInvitation", "started"), ("conversation", "added"))
        invitation = inner(one(read, "messagingInvitation", "started"))
        sides.append(Side(who, channel, invitation, href(invitation, "conversation")))
    return Ringing(sides[0], sides[1:])


async def decline(
    helpers: Helpers, side: Side, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return await helpers.client.post(
        href(side.invitation, "decline"),
        content=content,
        headers={**side.who.headers, "Content-Type": content_type},
    )


async def state_of(helpers: Helpers, side: Side) -> str:
    response = await helpers.client.get(href(side.invitation), headers=side.who.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


async def assert_still_ringing(helpers: Helpers, ringing: Ringing, *sides: Side) -> None:
    for side in (ringing.bill, *sides):
        assert await state_of(helpers, side) == "Connecting"
    await ringing.bill.channel.quiet()


async def assert_ended_here(helpers: Helpers, side: Side, subcode: str) -> None:
    read = await side.channel.expect(
        ("messagingInvitation", "completed"), ("conversation", "deleted")
    )
    done = one(read, "messagingInvitation", "completed")
    assert done["status"] == "Failure"
    assert (done["reason"]["code"], done["reason"]["subcode"]) == ("LocalFailure", subcode)
    response = await helpers.client.get(side.conversation, headers=side.who.headers)
    assert response.status_code == 404 or response.json()["state"] == "Disconnected"


async def accept_on(helpers: Helpers, ringing: Ringing, side: Side) -> None:
    answer = await helpers.client.post(href(side.invitation, "accept"), headers=side.who.headers)
    assert answer.status_code == 204, answer.text
    read = await ringing.bill.channel.expect(("messagingInvitation", "completed"))
    assert one(read, "messagingInvitation", "completed")["status"] == "Success"


@pytest.mark.parametrize(
    ("content", "content_type", "subcode", "parameter"),
    [
        (b"notjson", "application/json", "DeserializationFailure", None),
        (b'{"reason": ', "application/json", "DeserializationFailure", None),
        (b'{"reason": "bogus"}', "application/json", "ParameterValidationFailure", "reason"),
        (b'{"reason": 3}', "application/json", "ParameterValidationFailure", "reason"),
        (
            b'<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">'
            b'<property name="reason">Nobody</property></input>',
            "application/xml",
            "ParameterValidationFailure",
            "reason",
        ),
    ],
)
async def test_a_decline_with_a_bad_body_is_refused_and_changes_nothing(
    helpers: Helpers, content: bytes, content_type: str, subcode: str, parameter: str | None
) -> None:
    ringing = await ring_two_devices(helpers)
    response = await decline(helpers, ringing.devices[0], content, content_type)
    assert_error(response, 400, "BadRequest", subcode)
    if parameter is not None:
        assert parameter in response.json().get("parameters", {}), response.json()
    await assert_still_ringing(helpers, ringing, *ringing.devices)


@pytest.mark.parametrize("reason", ["Local", "local", "LOCAL"])
async def test_a_local_decline_ends_the_invitation_on_that_device_only(
    helpers: Helpers, reason: str
) -> None:
    ringing = await ring_two_devices(helpers)
    first, second = ringing.devices
    body = json.dumps({"reason": reason}).encode()
    assert (await decline(helpers, first, body)).status_code == 204
    await assert_ended_here(helpers, first, "Declined")
    await assert_still_ringing(helpers, ringing, second)
    await second.channel.quiet()
    await accept_on(helpers, ringing, second)  # the other device can still answer


async def test_a_local_decline_on_the_last_device_declines_for_the_inviter(
    helpers: Helpers,
) -> None:
    ringing = await ring_two_devices(helpers)
    first, second = ringing.devices
    assert (await decline(helpers, first, b'{"reason":"Local"}')).status_code == 204
    assert (await decline(helpers, second, b'{"reason":"Local"}')).status_code == 204
    read = await ringing.bill.channel.expect(("messagingInvitation", "completed"))
    done = one(read, "messagingInvitation", "completed")
    assert (done["reason"]["code"], done["reason"]["subcode"]) == ("Forbidden", "Declined")


@pytest.mark.parametrize("body", [b"", b"{}", b'{"reason":"Global"}', b'{"reason":"unknown"}'])
async def test_a_global_decline_ends_the_invitation_everywhere(
    helpers: Helpers, body: bytes
) -> None:
    ringing = await ring_two_devices(helpers)
    assert (await decline(helpers, ringing.devices[0], body)).status_code == 204
    for side in (ringing.bill, *ringing.devices):
        read = await side.channel.expect(
            ("messagingInvitation", "completed"), ("conversation", "deleted")
        )
        done = one(read, "messagingInvitation", "completed")
        assert done["status"] == "Failure"
        assert done["reason"]["subcode"] == "Declined"
        assert await state_of(helpers, side) == "Declined"


async def test_deleting_one_device_withdraws_only_that_device(helpers: Helpers) -> None:
    ringing = await ring_two_devices(helpers)
    first, second = ringing.devices
    gone = await helpers.client.delete(first.who.app_href, headers=first.who.headers)
    assert gone.status_code == 204
    await assert_still_ringing(helpers, ringing, second)
    await accept_on(helpers, ringing, second)


async def test_leaving_the_incoming_conversation_on_one_device_withdraws_only_it(
    helpers: Helpers,
) -> None:
    ringing = await ring_two_devices(helpers)
    first, second = ringing.devices
    left = await helpers.client.delete(first.conversation, headers=first.who.headers)
    assert left.status_code == 204
    await assert_ended_here(helpers, first, "Canceled")
    await assert_still_ringing(helpers, ringing, second)
    # the last device leaving ends the invitation for the inviter, as before
    left = await helpers.client.delete(second.conversation, headers=second.who.headers)
    assert left.status_code == 204
    read = await ringing.bill.channel.expect(
        ("messagingInvitation", "completed"), ("conversation", "deleted")
    )
    done = one(read, "messagingInvitation", "completed")
    assert done["status"] == "Failure"
    assert done["reason"]["subcode"] == "Canceled"
