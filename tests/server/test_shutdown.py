"""Stopping the real server (SIGTERM) while clients hold event-channel P-GETs: the held polls
are answered at once with their batch (the one they would get at the end of their hold, with
its ``next`` link), the process exits within seconds instead of after the 180 s hold, and what
was acknowledged before the signal is there after a restart."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.server.conftest import PASSWORD, SIP, Servers
from tests.server.test_events_kill import Client

pytestmark = pytest.mark.server

MEETING = {"subject": "before the restart", "accessLevel": "Everyone"}


def test_sigterm_answers_held_polls_at_once_and_exits_within_seconds(servers: Servers) -> None:
    first = servers.start()  # the default 180 s hold
    bill = Client(first.url, SIP, PASSWORD)
    meetings = bill.app["_embedded"]["onlineMeetings"]["_links"]["myOnlineMeetings"]["href"]
    created = bill.post(meetings, json=MEETING)
    assert created.status_code == 201, created.text
    meeting = created.json()["_links"]["self"]["href"]

    held_href = bill.next
    answered: list[tuple[httpx.Response, float]] = []

    def hold() -> None:
        with httpx.Client(base_url=first.url, timeout=httpx.Timeout(200.0)) as own:
            try:
                response = own.get(held_href, headers=bill.auth)
            except httpx.TransportError:  # the server was killed in teardown: not answered
                return
            answered.append((response, time.monotonic()))

    poller = threading.Thread(target=hold, daemon=True)
    poller.start()
    time.sleep(1.0)  # the P-GET is held: nothing to tell the application yet
    assert not answered

    signalled = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    poller.join(timeout=5)
    assert answered, "the held P-GET was not answered after SIGTERM"
    response, at = answered[0]
    assert at - signalled < 3.0
    assert response.status_code == 200, response.text
    batch = response.json()
    assert batch["_links"]["self"]["href"] == held_href
    next_href = batch["_links"]["next"]["href"]
    assert next_href != held_href
    first.process.wait(timeout=5)
    assert time.monotonic() - signalled < 5.0
    assert "Traceback" not in first.output(), first.output()

    second = servers.start(port=first.port, env={"OPENUCWA_MAX_EVENT_WAIT": "1"})
    bill.reconnect(second.url)
    again = bill.get(meeting)  # acknowledged before the signal: durable
    assert again.status_code == 200, again.text
    assert again.json()["subject"] == MEETING["subject"]
    resumed = bill.get(next_href)  # the client polls on where it left off
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["_links"]["self"]["href"] == next_href
    bill.http.close()
