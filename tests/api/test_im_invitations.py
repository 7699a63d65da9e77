"""Invitations that are not simply accepted: no answer after a restart (housekeeping ends them),
declining with a reason, and one of the invitee's devices going away while others still ring.
Spec: UCWA-MEETINGS.md §2.0.4, §2.11.2, §3.9; decline_ref.md, CallDeclineReason_ref.md;
docs/deviations.md 16."""

from __future__ import annotations

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.services.housekeeping import run_once
from tests.api.im_support import href, inner, invite, one
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
