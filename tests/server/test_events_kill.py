"""The event channel survives a crash (spec §2.4.2 steps 2 and 7, §3.10 b): the real server is
SIGKILLed while Alice has events she has not acknowledged; after a restart on the same database
and port she re-polls with her last ack (and her pre-crash token) and gets every one of them,
once, in order; the batches are retransmitted identically."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.server.conftest import PASSWORD, SIP, Servers, run_cli

pytestmark = pytest.mark.server

SHORT_WAIT = {"OPENUCWA_MAX_EVENT_WAIT": "1"}
TIMEOUT = httpx.Timeout(15.0)
CHALLENGE = re.compile(r'MsRtcOAuth\s+href="([^"]+)"')
ALICE, ALICE_PASSWORD = "alice@contoso.com", "alice-server-pass"
Batch = dict[str, Any]


class Client:
    """One signed-in user with one application, on a server URL that may change."""

    def __init__(self, base: str, user: str, password: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=TIMEOUT)
        user_href = self.http.get("/").json()["_links"]["user"]["href"]
        challenge = self.http.get(user_href)
        assert challenge.status_code == 401
        found = CHALLENGE.search(challenge.headers["www-authenticate"])
        assert found, challenge.headers["www-authenticate"]
        granted = self.http.post(
            found.group(1),
            content=urlencode({"grant_type": "password", "username": user, "password": password}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert granted.status_code == 200, granted.text
        self.auth = {"Authorization": f"Bearer {granted.json()['access_token']}"}
        applications = self.http.get(user_href, headers=self.auth).json()["_links"]["applications"]
        created = self.http.post(
            applications["href"],
            json={"userAgent": "events-kill", "endpointId": user, "culture": "en-US"},
            headers=self.auth,
        )
        assert created.status_code == 201, created.text
        self.app: dict[str, Any] = created.json()
        self.next = str(self.app["_links"]["events"]["href"])

    def reconnect(self, base: str) -> None:
        """Same token, same application, same ack: only the server process changed."""
        self.http.close()
        self.http = httpx.Client(base_url=base, timeout=TIMEOUT)

    def get(self, href: str) -> httpx.Response:
        return self.http.get(href, headers=self.auth)

    def poll(self) -> Batch:
        response = self.get(self.next)
        assert response.status_code == 200, response.text
        body: Batch = response.json()
        assert body["_links"]["self"]["href"] == self.next
        self.next = body["_links"]["next"]["href"]
        return body

    def post(self, href: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return self.http.post(href, headers=headers, **kwargs)


def all_events(body: Batch) -> list[dict[str, Any]]:
    return [e for s in body["sender"] for e in s["events"]]


def flat(body: Batch) -> list[tuple[str, str]]:
    return [(e["link"]["rel"], e["type"]) for e in all_events(body)]


def texts(body: Batch) -> list[str]:
    return [
        e["_embedded"]["message"]["_links"]["plainMessage"]["href"].split(",", 1)[1]
        for e in all_events(body)
        if e["link"]["rel"] == "message"
    ]


def test_unacknowledged_events_survive_sigkill(servers: Servers) -> None:
    run_cli(
        "users", "add", ALICE, "--name", "Alice Ciccu", "--password", ALICE_PASSWORD,
        "--database", servers.database,
    )  # fmt: skip
    first = servers.start(env=SHORT_WAIT)
    bill = Client(first.url, SIP, PASSWORD)
    alice = Client(first.url, ALICE, ALICE_PASSWORD)
    made = alice.post(alice.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"], json={})
    assert made.status_code == 204, made.text
    assert [rel for rel, _ in flat(alice.poll())][:1] == ["communication"]  # batch 1
    assert bill.poll()["sender"] == []  # nothing for Bill yet: the 1 s cap

    start = bill.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
    invite = {
        "operationId": "kill-1",
        "to": f"sip:{ALICE}",
        "_links": {"message": {"href": "data:text/plain;charset=utf-8,Hi+Alice"}},
    }
    assert bill.post(start, json=invite).status_code == 201
    last_seen = alice.next
    invited = alice.poll()  # batch 2: the invitation; from here on Alice does not poll
    assert ("messagingInvitation", "started") in flat(invited)
    invitation = next(e for e in all_events(invited) if e["link"]["rel"] == "messagingInvitation")
    accept = invitation["_embedded"]["messagingInvitation"]["_links"]["accept"]["href"]
    assert alice.post(accept).status_code == 204
    seen = all_events(bill.poll())  # invited and accepted: messaging with sendMessage
    messaging = [e for e in seen if e["link"]["rel"] == "messaging"][-1]
    send = messaging["_embedded"]["messaging"]["_links"]["sendMessage"]["href"]
    for text in ("one", "two", "three"):
        sent = bill.post(send, content=text, headers={"Content-Type": "text/plain; charset=UTF-8"})
        assert sent.status_code == 201, sent.text
    pending = alice.next  # Alice's last ack: batch 3, never asked for
    first.sigkill()

    second = servers.start(port=first.port, env=SHORT_WAIT)
    alice.reconnect(second.url)
    again = alice.get(last_seen)  # batch 2 was not acknowledged: retransmitted, identical
    assert again.status_code == 200, again.text
    assert again.json() == invited
    assert alice.next == pending
    after = alice.poll()  # acknowledges batch 2
    assert after["_links"]["self"]["href"] == pending
    assert flat(after) == [
        ("conversation", "updated"),
        ("messagingInvitation", "completed"),
        ("messaging", "updated"),
        ("participantMessaging", "added"),
        ("participantMessaging", "added"),
        ("message", "completed"),
        ("message", "completed"),
        ("message", "completed"),
        ("message", "completed"),
    ]
    assert texts(after) == ["Hi+Alice", "one", "two", "three"]  # nothing lost, nothing twice
    hrefs = [e["link"]["href"] for e in all_events(after) if e["link"]["rel"] == "message"]
    assert len(set(hrefs)) == 4
    directions = {e["_embedded"]["message"]["direction"] for e in all_events(after)
                  if e["link"]["rel"] == "message"}  # fmt: skip
    assert directions == {"Incoming"}
    retransmitted = alice.get(pending)
    assert retransmitted.status_code == 200, retransmitted.text
    assert retransmitted.json() == after
    stale = alice.get(last_seen)  # acknowledged now: resync to the first unacknowledged batch
    assert stale.status_code == 200, stale.text
    assert stale.json()["_links"] == {"resync": {"href": pending}}
    tail = alice.poll()  # nothing more: the restarted server honours the 1 s cap too
    assert tail["sender"] == []
    bill.http.close()
    alice.http.close()
