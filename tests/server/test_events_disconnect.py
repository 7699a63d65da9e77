"""A held P-GET whose client hangs up ends at once and no longer holds the channel (spec
§2.4.2: a lower priority never replaces a higher one). Before, a client that crashed while
holding a P-GET at ``priority=5`` had its next P-GET (default priority) refused with
``409 PGetReplaced`` for the whole hold of the dead one, up to 180 s, and got no events."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest

from tests.server.conftest import PASSWORD, SIP, Servers
from tests.server.test_events_kill import Client

pytestmark = pytest.mark.server


def hold_and_hang_up(port: int, href: str, auth: dict[str, str]) -> None:
    """Send a P-GET on a raw socket, leave it held a moment, then close the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = f"GET {href} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in auth.items()) + "\r\n"
        sock.sendall(head.encode())
        sock.settimeout(0.5)
        try:
            early = sock.recv(65536)
        except TimeoutError:
            early = b""
        assert early == b"", f"the P-GET was answered instead of held: {early[:200]!r}"


def test_a_hung_up_high_priority_pget_does_not_shut_out_the_next(servers: Servers) -> None:
    # Holds end after 4 s here: the dead P-GET would still hold when the next one comes.
    server = servers.start(env={"OPENUCWA_MAX_EVENT_WAIT": "4"})
    bill = Client(server.url, SIP, PASSWORD)
    first = bill.get(bill.next)  # nothing yet: answered when the hold ends
    assert first.status_code == 200, first.text
    bill.next = first.json()["_links"]["next"]["href"]
    hold_and_hang_up(server.port, bill.next + "&priority=5", bill.auth)
    time.sleep(0.3)  # the server sees the connection closed
    answer: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        answer["response"] = bill.http.get(
            bill.next, headers=bill.auth, timeout=httpx.Timeout(30.0)
        )
        answer["took"] = time.monotonic() - started

    waiter = threading.Thread(target=poll)
    waiter.start()
    waiter.join(timeout=20)
    assert not waiter.is_alive()
    response = answer["response"]
    assert response.status_code == 200, response.text  # held to its own timeout, not refused
    assert answer["took"] >= 2.5  # held, as the only P-GET of the application
    assert "Traceback" not in server.output()
