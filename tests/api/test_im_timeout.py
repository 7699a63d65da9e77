"""An invitation nobody answers times out (messagingInvitation_ref: "if the recipient does not
respond in approximately thirty seconds, the messagingInvitation will complete with failure"):
here the timer of a server whose OPENUCWA_INVITATION_TIMEOUT is short.
Spec: UCWA-MEETINGS.md §2.11.2, §3.9; docs/operations.md (OPENUCWA_INVITATION_TIMEOUT)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openucwa.settings import Settings
from tests.api.im_support import Side, events, href, inner, invite, kinds, one
from tests.conftest import Helpers

TIMEOUT = 0.5


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database=f"sqlite:///{tmp_path / 'test.db'}",
        domains="contoso.com",
        max_event_wait=1.0,
        invitation_timeout=TIMEOUT,
    )


async def get(helpers: Helpers, side: Side, url: str) -> dict[str, Any]:
    response = await helpers.client.get(url, headers=side.who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_an_unanswered_invitation_times_out_on_both_sides(helpers: Helpers) -> None:
    pair = await invite(helpers)
    for side, invited, reason in (
        (pair.bill, pair.bill_invited, ("RemoteFailure", "Timeout")),
        (pair.alice, pair.alice_invited, ("Informational", "Missed")),
    ):
        read = list(invited)  # on a slow machine the timeout may come in the same batch
        for _ in range(10):  # each poll is held at most 1 s
            if events(read, "messagingInvitation", "completed") and events(
                read, "conversation", "deleted"
            ):
                break
            read += await side.channel.poll()
        else:
            raise AssertionError(kinds(read))
        done = one(read, "messagingInvitation", "completed")
        assert done["status"] == "Failure"
        assert (done["reason"]["code"], done["reason"].get("subcode")) == reason
        assert inner(done)["state"] == "Failed"
        invitation = await get(helpers, side, href(side.invitation))
        assert invitation["state"] == "Failed"
        conversation = await get(helpers, side, side.conversation)
        assert conversation["state"] == "Disconnected"
        listing = side.who.app["_embedded"]["communication"]["_links"]["conversations"]["href"]
        active = await get(helpers, side, listing)  # ?filter=active
        assert active["_links"].get("conversation", []) == []
    late = await helpers.client.post(
        href(pair.alice.invitation, "accept"), headers=pair.alice.who.headers
    )
    assert late.status_code == 409, late.text
