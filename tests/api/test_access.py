"""Access control: another user's token (or none) never reaches bill's application or meetings
(spec §2.0.1, §2.0.4; web/guard.py). Every URL comes from following bill's links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from openucwa.domain.clock import FakeClock
from tests.conftest import BASE, Helpers, Session

SECRET_SUBJECT = "Bill's confidential board meeting"
GRANTS = "urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"
CHALLENGE = f'MsRtcOAuth href="{BASE}/WebTicket/oauthtoken",grant_type="{GRANTS}"'


@dataclass
class Bill:
    session: Session
    meeting: dict[str, Any]
    extension: dict[str, Any]

    @property
    def meeting_href(self) -> str:
        return str(self.meeting["_links"]["self"]["href"])

    @property
    def extension_href(self) -> str:
        return str(self.extension["_links"]["self"]["href"])

    @property
    def secrets(self) -> list[str]:
        """Strings that only bill's data contains: none may leak into another user's answer."""
        return [
            SECRET_SUBJECT,
            "bmauldin",
            "Bill Mauldin",
            self.session.app["id"],
            self.meeting["onlineMeetingId"],
            self.meeting["etag"],
            self.extension["etag"],
            "RoamedParticipantData",
        ]


async def bill_with_meeting(client: httpx.AsyncClient, helpers: Helpers) -> Bill:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    body = {"subject": SECRET_SUBJECT, "attendees": ["sip:tosh@contoso.com"]}
    meeting = await client.post(mine, json=body, headers=bill.headers)
    assert meeting.status_code == 201, meeting.text
    extensions = meeting.json()["_links"]["onlineMeetingExtensions"]["href"]
    ext_body = {"id": "ext1", "type": "RoamedParticipantData", "color": "blue"}
    extension = await client.post(extensions, json=ext_body, headers=bill.headers)
    assert extension.status_code == 201, extension.text
    return Bill(bill, meeting.json(), extension.json())


def requests_for(bill: Bill) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]:
    """Every (method, url, json body, extra headers) bill himself may send, found by links."""
    s = bill.session
    app = s.app
    om = app["_embedded"]["onlineMeetings"]["_links"]
    meeting_if = {"If-Match": f'"{bill.meeting["etag"]}"'}
    ext_if = {"If-Match": f'"{bill.extension["etag"]}"'}
    extensions = bill.meeting["_links"]["onlineMeetingExtensions"]["href"]
    out: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
        ("GET", s.app_href, None, {}),
        ("DELETE", s.app_href, None, {}),
        ("GET", s.link("me", "self"), None, {}),
        ("GET", s.link("me", "photo"), None, {}),
        ("POST", s.link("me", "makeMeAvailable"), {"signInAs": "Online"}, {}),
        ("GET", s.link("people", "self"), None, {}),
        ("GET", s.link("policies"), None, {}),
        ("GET", s.link("communication", "self"), None, {}),
        ("GET", om["myOnlineMeetings"]["href"], None, {}),
        ("POST", om["myOnlineMeetings"]["href"], {"subject": "alice was here"}, {}),
        ("GET", bill.meeting_href, None, {}),
        ("PUT", bill.meeting_href, {"subject": "alice was here"}, meeting_if),
        ("DELETE", bill.meeting_href, None, {}),
        ("GET", extensions, None, {}),
        ("POST", extensions, {"id": "ext2", "type": "RoamedParticipantData"}, {}),
        ("GET", bill.extension_href, None, {}),
        ("PUT", bill.extension_href, {"type": "RoamedParticipantData", "color": "red"}, ext_if),
        ("DELETE", bill.extension_href, None, {}),
    ]
    out += [("GET", link["href"], None, {}) for link in om.values()]  # dashboard + children
    return out


def all_hrefs(node: Any) -> set[str]:
    """Every href anywhere in a JSON document."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "href" and isinstance(value, str):
                found.add(value)
            else:
                found |= all_hrefs(value)
    elif isinstance(node, list):
        for item in node:
            found |= all_hrefs(item)
    return found


def assert_no_leak(response: httpx.Response, bill: Bill) -> None:
    text = response.text
    for secret in bill.secrets:
        assert secret not in text, (response.request.method, response.request.url, secret)
    for name in ("etag", "location"):
        assert name not in response.headers or not any(
            s in response.headers[name] for s in bill.secrets
        )


async def snapshot(client: httpx.AsyncClient, bill: Bill) -> dict[str, Any]:
    s = bill.session
    out: dict[str, Any] = {}
    for url in (
        s.app_href,
        s.link("me", "self"),
        s.link("communication", "self"),
        bill.meeting_href,
        bill.meeting["_links"]["onlineMeetingExtensions"]["href"],
        bill.extension_href,
        s.link("onlineMeetings", "myOnlineMeetings"),
    ):
        response = await client.get(url, headers=s.headers)
        assert response.status_code == 200, (url, response.text)
        out[url] = (response.headers.get("etag"), response.json())
    return out


async def test_other_user_gets_404_everywhere(client: httpx.AsyncClient, helpers: Helpers) -> None:
    bill = await bill_with_meeting(client, helpers)
    before = await snapshot(client, bill)
    assert "makeMeAvailable" in before[bill.session.link("me", "self")][1]["_links"]
    alice = await helpers.session("alice")
    for method, url, body, extra in requests_for(bill):
        response = await client.request(method, url, json=body, headers={**alice.headers, **extra})
        assert response.status_code in (401, 404), (method, url, response.status_code)
        if response.status_code == 404:
            assert response.json()["code"] == "NotFound"
        assert_no_leak(response, bill)
    assert await snapshot(client, bill) == before
    # alice's own application is untouched by all that and holds none of bill's meetings
    mine = await client.get(alice.link("onlineMeetings", "myOnlineMeetings"), headers=alice.headers)
    assert mine.status_code == 200
    assert_no_leak(mine, bill)


async def test_every_linked_url_with_every_method(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    """A sweep over every href in bill's documents; routes that lack a method may say 405."""
    bill = await bill_with_meeting(client, helpers)
    before = await snapshot(client, bill)
    hrefs = all_hrefs(bill.session.app) | all_hrefs(bill.meeting) | all_hrefs(bill.extension)
    hrefs = {h for h in hrefs if h.startswith("/ucwa/")}
    assert bill.extension_href in hrefs and bill.meeting_href in hrefs
    tosh = await helpers.session("tosh")
    for url in sorted(hrefs):
        for method in ("GET", "POST", "PUT", "DELETE"):
            body = None if method in ("GET", "DELETE") else {"subject": "x"}
            headers = {**tosh.headers, "If-Match": "*"}
            response = await client.request(method, url, json=body, headers=headers)
            assert response.status_code in (401, 404, 405), (method, url, response.text)
            assert_no_leak(response, bill)
    assert await snapshot(client, bill) == before


async def test_missing_token_is_challenged_everywhere(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    bill = await bill_with_meeting(client, helpers)
    before = await snapshot(client, bill)
    for method, url, body, extra in requests_for(bill):
        response = await client.request(method, url, json=body, headers=extra)
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["www-authenticate"].endswith(CHALLENGE)
        assert_no_leak(response, bill)
    assert await snapshot(client, bill) == before


@pytest.mark.parametrize(
    "authorization", ["Bearer cwt=forged", "Bearer", "Basic YmlsbDpiaWxsLXBhc3M=", "garbage"]
)
async def test_bad_token_is_challenged_everywhere(
    client: httpx.AsyncClient, helpers: Helpers, authorization: str
) -> None:
    bill = await bill_with_meeting(client, helpers)
    before = await snapshot(client, bill)
    for method, url, body, extra in requests_for(bill):
        headers = {**extra, "Authorization": authorization}
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (method, url)
        assert CHALLENGE in response.headers["www-authenticate"]
    assert await snapshot(client, bill) == before


async def test_own_application_with_other_users_meeting(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    """alice swaps bill's meeting id into her own application's URLs: still nothing."""
    bill = await bill_with_meeting(client, helpers)
    before = await snapshot(client, bill)
    alice = await helpers.session("alice")
    bill_app = bill.session.app_href
    for method, url, body, extra in requests_for(bill):
        if "/onlineMeetings/myOnlineMeetings/" not in url:
            continue
        mine = url.replace(bill_app, alice.app_href, 1)
        headers = {**alice.headers, **extra}
        response = await client.request(method, mine, json=body, headers=headers)
        assert response.status_code == 404, (method, mine, response.text)
        assert response.json()["code"] == "NotFound"
        assert_no_leak(response, bill)
    assert await snapshot(client, bill) == before


async def test_expired_token_on_own_application(
    client: httpx.AsyncClient, helpers: Helpers, clock: FakeClock
) -> None:
    bill = await bill_with_meeting(client, helpers)
    clock.advance(8 * 3600 + 1)
    for method, url, body, extra in requests_for(bill):
        headers = {**bill.session.headers, **extra}
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (method, url)
        assert CHALLENGE in response.headers["www-authenticate"]


async def test_owner_still_has_full_access(client: httpx.AsyncClient, helpers: Helpers) -> None:
    """The control case: the same requests with bill's token succeed (so 404s above are real)."""
    bill = await bill_with_meeting(client, helpers)
    statuses: dict[tuple[str, str], int] = {}
    for method, url, body, extra in requests_for(bill):
        if method == "DELETE":
            continue  # keep the data; DELETEs are checked separately below
        headers = {**bill.session.headers, **extra}
        response = await client.request(method, url, json=body, headers=headers)
        statuses[(method, url)] = response.status_code
    assert statuses[("GET", bill.meeting_href)] == 200
    assert statuses[("PUT", bill.meeting_href)] == 200
    assert statuses[("GET", bill.extension_href)] == 200
    assert statuses[("PUT", bill.extension_href)] == 200
    assert statuses[("POST", bill.session.link("me", "makeMeAvailable"))] == 204
    assert statuses[("GET", bill.session.link("me", "photo"))] == 404  # no photo published
    ok = {k: v for k, v in statuses.items() if k[1] != bill.session.link("me", "photo")}
    assert all(v in (200, 201, 204) for v in ok.values()), ok
    for url in (bill.extension_href, bill.meeting_href, bill.session.app_href):
        response = await client.delete(url, headers=bill.session.headers)
        assert response.status_code == 204, url
