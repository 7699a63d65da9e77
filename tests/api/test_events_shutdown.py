"""When the server starts to shut down, the event channel holds no P-GET: a held one answers at
once with the batch it would give at the end of its hold, and one that comes later is not held
either (tests/server/test_shutdown.py stops the real server)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openucwa.bootstrap import Built
from openucwa.settings import Settings
from tests.api.events_support import QUICK, Channel, check_batch, high_event, timed
from tests.conftest import Helpers

LONG_HOLD = 60.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, max_event_wait=LONG_HOLD)


async def test_shutdown_answers_the_held_poll_and_holds_no_later_one(
    helpers: Helpers, built: Built
) -> None:
    bill = await helpers.session("bill")
    channel = Channel(helpers, bill)
    held = await channel.park()
    built.services.events.stop_holding()
    body, took = await timed(held)
    assert took < QUICK
    assert check_batch(body) == 1 and body["sender"] == []

    await high_event(helpers, bill, "op-1")
    later, took = await timed(channel.poll_task())
    assert took < QUICK
    assert check_batch(later) == 2 and later["sender"]  # the events it would have been woken for
    empty, took = await timed(channel.poll_task())
    assert took < QUICK
    assert check_batch(empty) == 3 and empty["sender"] == []
