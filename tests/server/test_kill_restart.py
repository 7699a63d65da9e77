"""Durability across a crash: what the server acknowledged before a SIGKILL is there after a
restart on the same database - meetings (byte for byte, same ETag), tokens, and every meeting
of a burst of concurrent POSTs that were committed together (group commit).

Sign-in follows the 2015 capture (tests/conformance/samples): GET / -> ``user`` -> 401 with the
MsRtcOAuth challenge -> POST the token href -> GET ``user`` -> POST ``applications`` ->
``_embedded.onlineMeetings._links.myOnlineMeetings``."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.server.conftest import PASSWORD, SIP, Servers

pytestmark = pytest.mark.server

TIMEOUT = httpx.Timeout(15.0)
CHALLENGE = re.compile(r'MsRtcOAuth\s+href="([^"]+)"')
APPLICATION = {"userAgent": "node-ucwa", "endpointId": "node", "culture": "en-US"}


@dataclass
class Session:
    user_href: str
    token: str
    app: dict[str, Any]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def app_path(self) -> str:
        return str(self.app["_links"]["self"]["href"])

    @property
    def my_meetings(self) -> str:
        return str(self.app["_embedded"]["onlineMeetings"]["_links"]["myOnlineMeetings"]["href"])


def client(base: str) -> httpx.Client:
    """Relative hrefs (everything inside resources) resolve against the server's origin."""
    return httpx.Client(base_url=base, timeout=TIMEOUT)


def get_token(http: httpx.Client) -> tuple[str, str]:
    """Discovery and the token grant; returns (user href, access token)."""
    root = http.get("/")
    assert root.status_code == 200, root.text
    user_href = root.json()["_links"]["user"]["href"]
    challenge = http.get(user_href)
    assert challenge.status_code == 401
    found = CHALLENGE.search(challenge.headers["www-authenticate"])
    assert found, challenge.headers["www-authenticate"]
    granted = http.post(
        found.group(1),
        content=urlencode({"grant_type": "password", "username": SIP, "password": PASSWORD}),
        headers={"Content-Type": "application/x-www-form-urlencoded;charset='utf-8'"},
    )
    assert granted.status_code == 200, granted.text
    return user_href, str(granted.json()["access_token"])


def open_application(http: httpx.Client, user_href: str, token: str) -> Session:
    auth = {"Authorization": f"Bearer {token}"}
    user = http.get(user_href, headers=auth)
    assert user.status_code == 200, user.text
    created = http.post(
        user.json()["_links"]["applications"]["href"], json=APPLICATION, headers=auth
    )
    assert created.status_code in (200, 201), created.text
    return Session(user_href, token, created.json())


def sign_in(http: httpx.Client) -> Session:
    user_href, token = get_token(http)
    return open_application(http, user_href, token)


def without_app_path(body: dict[str, Any], app_path: str) -> Any:
    """The body with the application's path segment replaced: a new application may get a new
    URL, everything else must be identical."""
    return json.loads(json.dumps(body).replace(app_path, "{application}"))


def listed(http: httpx.Client, session: Session) -> dict[str, dict[str, Any]]:
    response = http.get(session.my_meetings, headers=session.auth)
    assert response.status_code == 200, response.text
    return {m["onlineMeetingId"]: m for m in response.json()["_embedded"]["myOnlineMeeting"]}


def in_ms(days: int) -> str:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return f"/Date({int(when.timestamp() * 1000)})/"


def test_meeting_survives_sigkill_unchanged(servers: Servers) -> None:
    first = servers.start()
    with client(first.url) as http:
        before = sign_in(http)
        created = http.post(
            before.my_meetings,
            json={
                "subject": "Quarterly sales numbers",
                "description": "Bring the spreadsheets",
                "attendees": ["sip:alice@contoso.com"],
                "leaders": ["sip:tosh@contoso.com"],
                "accessLevel": "Invited",
                "automaticLeaderAssignment": "SameEnterprise",
                "lobbyBypassForPhoneUsers": "Enabled",
                "phoneUserAdmission": "Enabled",
                "expirationTime": in_ms(30),
            },
            headers=before.auth,
        )
        assert created.status_code == 201, created.text
        first.sigkill()  # right after the acknowledgement

    second = servers.start(port=first.port)  # same origin: joinUrl is built from it
    acknowledged = without_app_path(created.json(), before.app_path)
    with client(second.url) as http:
        after = sign_in(http)
        assert after.token != before.token
        found = listed(http, after).get(created.json()["onlineMeetingId"])
        assert found is not None, "the acknowledged meeting is gone after the crash"
        assert without_app_path(found, after.app_path) == acknowledged

        fetched = http.get(found["_links"]["self"]["href"], headers=after.auth)
        assert fetched.status_code == 200, fetched.text
        assert without_app_path(fetched.json(), after.app_path) == acknowledged
        assert fetched.headers["etag"] == created.headers["etag"]

        # The ETag acknowledged before the crash still satisfies If-Match.
        updated = http.put(
            found["_links"]["self"]["href"],
            json={**fetched.json(), "subject": "After the crash"},
            headers={**after.auth, "If-Match": created.headers["etag"]},
        )
        assert updated.status_code == 200, updated.text
        assert updated.headers["etag"] != created.headers["etag"]


def test_tokens_survive_sigkill(servers: Servers) -> None:
    first = servers.start()
    with client(first.url) as http:
        user_href, token = get_token(http)
        open_application(http, user_href, token)
    first.sigkill()

    second = servers.start(port=first.port)
    with client(second.url) as http:
        refused = http.get(user_href, headers={"Authorization": "Bearer cwt=not-a-token"})
        assert refused.status_code == 401  # the server does check tokens
        session = open_application(http, user_href, token)  # the pre-crash token
        assert http.get(session.my_meetings, headers=session.auth).status_code == 200
        assert http.get(session.app_path, headers=session.auth).status_code == 200


async def test_concurrent_acknowledged_meetings_survive_sigkill(servers: Servers) -> None:
    count = 50
    first = servers.start()
    with client(first.url) as http:
        session = sign_in(http)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=first.url, timeout=TIMEOUT, limits=limits) as http_async:
        responses = await asyncio.gather(
            *(
                http_async.post(
                    session.my_meetings, json={"subject": f"burst {n}"}, headers=session.auth
                )
                for n in range(count)
            )
        )
    first.sigkill()
    assert [r.status_code for r in responses] == [201] * count
    acknowledged = {r.json()["onlineMeetingId"]: r.json()["subject"] for r in responses}
    assert len(acknowledged) == count

    second = servers.start(port=first.port)
    with client(second.url) as http:
        after = sign_in(http)
        present = {mid: m["subject"] for mid, m in listed(http, after).items()}
    missing = sorted(set(acknowledged) - set(present))
    assert not missing, f"{len(missing)} acknowledged meetings lost: {missing}"
    assert {mid: present[mid] for mid in acknowledged} == acknowledged
