"""The SDK against the real app in-process, and against a fake server with another URL layout
(proving it follows links instead of building paths)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa_client import AsyncClient, UcwaClientError
from openucwa_client._challenge import msrtc_oauth
from tests.conftest import BASE, USERS, Helpers

BILL_URI, _, BILL_PASSWORD = USERS["bill"]
BILL = BILL_URI.removeprefix("sip:")


@pytest.fixture
async def sdk(built: Built) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(BASE, transport=httpx.ASGITransport(app=built.app))
    try:
        yield client
    finally:
        await client.close()


async def test_meeting_crud_cycle(sdk: AsyncClient) -> None:
    app = await sdk.sign_in(BILL, BILL_PASSWORD)
    assert app["rel"] == "application"

    created = await sdk.create_meeting(
        subject="Quarterly sales numbers",
        description="Bring numbers",
        attendees=["sip:alice@contoso.com"],
        accessLevel="Invited",
    )
    assert created["subject"] == "Quarterly sales numbers"
    assert created["attendees"] == ["sip:alice@contoso.com"]
    assert created["accessLevel"] == "Invited"
    meeting_id = created["onlineMeetingId"]
    href = created["_links"]["self"]["href"]

    listed = {m["onlineMeetingId"]: m for m in await sdk.list_meetings()}
    assert listed[meeting_id] == created
    assert await sdk.get_meeting(href) == created

    updated = await sdk.update_meeting(created, subject="Important details")
    assert updated["subject"] == "Important details"
    assert updated["etag"] != created["etag"]
    unchanged = {k: v for k, v in updated.items() if k not in ("subject", "etag")}
    assert unchanged == {k: v for k, v in created.items() if k not in ("subject", "etag")}

    with pytest.raises(UcwaClientError) as stale:
        await sdk.update_meeting(created, subject="Written over a newer version")
    assert (stale.value.status, stale.value.code) == (412, "PreconditionFailed")
    assert (await sdk.get_meeting(href))["subject"] == "Important details"

    await sdk.delete_meeting(href)
    assert meeting_id not in {m["onlineMeetingId"] for m in await sdk.list_meetings()}
    with pytest.raises(UcwaClientError) as gone:
        await sdk.get_meeting(href)
    assert (gone.value.status, gone.value.code) == (404, "NotFound")


async def test_wrong_password_is_an_oauth_error(sdk: AsyncClient) -> None:
    with pytest.raises(UcwaClientError) as refused:
        await sdk.sign_in(BILL, "not the password")
    assert (refused.value.status, refused.value.code) == (400, "invalid_grant")


async def test_a_refused_meeting_names_the_properties(sdk: AsyncClient) -> None:
    await sdk.sign_in(BILL, BILL_PASSWORD)
    with pytest.raises(UcwaClientError) as refused:
        await sdk.create_meeting(subject="x" * 300, accessLevel="Bogus")
    error = refused.value
    assert (error.status, error.subcode) == (400, "ParameterValidationFailure")
    assert set(error.parameters) == {"subject", "accessLevel"}
    assert "250" in error.parameters["subject"] and "subject" in str(error)


async def test_an_expired_token_says_so_and_a_new_sign_in_recovers(
    built: Built, clock: FakeClock
) -> None:
    before = time.time()
    async with AsyncClient(BASE, transport=httpx.ASGITransport(app=built.app)) as sdk:
        await sdk.sign_in(BILL, BILL_PASSWORD)
        expires_at = sdk.token_expires_at
        assert expires_at is not None
        assert before + 8 * 3600 - 5 <= expires_at <= time.time() + 8 * 3600
        clock.advance(8 * 3600 + 1)
        with pytest.raises(UcwaClientError) as expired:
            await sdk.list_meetings()
        assert expired.value.status == 401
        assert "sign_in again" in expired.value.message and "<" not in expired.value.message
        await sdk.sign_in(BILL, BILL_PASSWORD)  # the idle application expired too: a new one
        assert await sdk.list_meetings()


async def test_meetings_need_a_sign_in(sdk: AsyncClient) -> None:
    with pytest.raises(UcwaClientError) as not_yet:
        await sdk.list_meetings()
    assert not_yet.value.code == "NotSignedIn"


async def test_close_deletes_the_application(built: Built, helpers: Helpers) -> None:
    sdk = AsyncClient(BASE, transport=httpx.ASGITransport(app=built.app))
    app = await sdk.sign_in(BILL, BILL_PASSWORD)
    auth = {"Authorization": f"Bearer {await helpers.token('bill')}"}
    href = app["_links"]["self"]["href"]
    assert (await helpers.client.get(href, headers=auth)).status_code == 200
    await sdk.close()
    assert (await helpers.client.get(href, headers=auth)).status_code == 404


# -- a fake server with its own layout, on two hosts ------------------------------------------


def fake_server(seen: list[str]) -> httpx.MockTransport:
    pool = "https://pool.example.net"
    app = {
        "rel": "application",
        "_links": {"self": {"href": "/api/apps/7"}},
        "_embedded": {
            "onlineMeetings": {"_links": {"myOnlineMeetings": {"href": "/api/apps/7/mine"}}}
        },
    }
    challenge = (
        'Bearer trusted_issuers="", client_id="x", '
        f'MsRtcOAuth href={pool}/sts/issue,grant_type="password"'  # unquoted href
    )

    def handle(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append(f"{request.method} {url}")
        authorised = request.headers.get("authorization") == "Bearer cwt=fake"
        if url == "https://discover.example.org/":
            return httpx.Response(200, json={"_links": {"user": {"href": f"{pool}/who"}}})
        if url == f"{pool}/who" and not authorised:
            return httpx.Response(401, headers={"WWW-Authenticate": challenge}, text="<html/>")
        if url == f"{pool}/who":
            return httpx.Response(200, json={"_links": {"applications": {"href": "/api/apps"}}})
        if url == f"{pool}/sts/issue" and request.method == "POST":
            assert b"grant_type=password" in request.content
            return httpx.Response(200, json={"access_token": "cwt=fake", "token_type": "Bearer"})
        if url == f"{pool}/api/apps" and authorised:
            return httpx.Response(201, json=app)
        if url == f"{pool}/api/apps/7/mine" and authorised and request.method == "POST":
            return httpx.Response(
                201, json={"rel": "myOnlineMeeting", **json.loads(request.content)}
            )
        if url == f"{pool}/api/apps/7" and request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(404, json={"code": "NotFound", "message": url})

    return httpx.MockTransport(handle)


async def test_sign_in_follows_links_across_hosts() -> None:
    seen: list[str] = []
    async with AsyncClient("https://discover.example.org", transport=fake_server(seen)) as sdk:
        await sdk.sign_in("someone@example.org", "secret")
        meeting = await sdk.create_meeting(subject="Elsewhere")
    assert meeting == {"rel": "myOnlineMeeting", "subject": "Elsewhere"}
    assert seen == [
        "GET https://discover.example.org/",
        "GET https://pool.example.net/who",
        "POST https://pool.example.net/sts/issue",
        "GET https://pool.example.net/who",
        "POST https://pool.example.net/api/apps",
        "POST https://pool.example.net/api/apps/7/mine",
        "DELETE https://pool.example.net/api/apps/7",
    ]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (  # the 2015 capture: both schemes on one line
            [
                'Bearer trusted_issuers="i@domain.com", client_id="c", MsRtcOAuth '
                'href="https://lync.domain.com/WebTicket/oauthtoken",grant_type="a,b,password"'
            ],
            {"href": "https://lync.domain.com/WebTicket/oauthtoken", "grant_type": "a,b,password"},
        ),
        (  # one line per scheme, spaces after the comma
            ['Bearer realm="x"', 'MsRtcOAuth href="/t", grant_type="password"'],
            {"href": "/t", "grant_type": "password"},
        ),
        (['Bearer realm="x"'], {}),
    ],
)
def test_challenge_parsing(headers: list[str], expected: dict[str, str]) -> None:
    assert msrtc_oauth(headers) == expected
