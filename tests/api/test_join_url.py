"""The joinUrl of a meeting: its shape (https://meet.<domain>/<user part>/<onlineMeetingId>) and
the public page served at its path. Spec: UCWA-MEETINGS.md §2.6.0, §2.6.3 (DELETE), §3.2 step 1."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.domain.users import User
from openucwa.settings import Settings
from tests.api.meetings_support import BILL, created, get_json, put, running_app, self_href
from tests.conftest import BASE, CHEAP_PASSWORDS, Helpers, Session


def path_of(join_url: str) -> str:
    """The joinUrl without its origin: what a browser asks this server for."""
    return httpx.URL(join_url).raw_path.decode()


async def open_page(helpers: Helpers, join_url: str) -> httpx.Response:
    return await helpers.client.get(path_of(join_url))  # no Authorization header


async def test_join_url_opens_a_public_page_naming_the_meeting(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "Quarterly sales numbers"})
    meeting_id = meeting["onlineMeetingId"]
    assert meeting["joinUrl"] == f"{BASE}/bmauldin/{meeting_id}"
    response = await open_page(helpers, meeting["joinUrl"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Quarterly sales numbers" in page
    assert meeting_id in page and "Bill Mauldin" in page
    assert f"{BILL};gruu;opaque=app:conf:focus:id:{meeting_id}" in page


async def test_html_in_the_subject_is_escaped(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    subject = '<script>alert("x")</script> & <b>co</b>'
    meeting = await created(helpers, bill, {"subject": subject})
    page = (await open_page(helpers, meeting["joinUrl"])).text
    assert "<script>alert" not in page and "<b>co</b>" not in page
    assert "&lt;script&gt;" in page and "&amp;" in page and "&lt;b&gt;co&lt;/b&gt;" in page


async def test_the_page_forbids_scripts_frames_and_sniffing(helpers: Helpers) -> None:
    """The organizer chooses what the page shows: defence in depth beside the escaping."""
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "hardened"})
    for response in (
        await open_page(helpers, meeting["joinUrl"]),
        await helpers.client.get("/bmauldin/ZZZZ9999"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


async def test_page_follows_updates_and_disappears_after_delete(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "Draft agenda"})
    updated = await put(
        helpers, bill, self_href(meeting), {"subject": "Final agenda"}, meeting["etag"]
    )
    assert updated.status_code == 200
    page = (await open_page(helpers, meeting["joinUrl"])).text
    assert "Final agenda" in page and "Draft agenda" not in page
    deleted = await helpers.client.delete(self_href(meeting), headers=bill.headers)
    assert deleted.status_code == 204
    gone = await open_page(helpers, meeting["joinUrl"])
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("text/html")
    assert "Final agenda" not in gone.text


async def test_unknown_or_mismatched_meetings_are_not_found(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "Bill's"})
    meeting_id = meeting["onlineMeetingId"]
    for path in ("/bmauldin/ZZZZ9999", f"/alice/{meeting_id}", f"/nobody/{meeting_id}"):
        response = await helpers.client.get(path)
        assert response.status_code == 404, path
        assert "Bill's" not in response.text


async def test_the_assigned_meeting_has_a_page_too(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    assigned = await get_json(helpers, bill, bill.link("onlineMeetings", "myAssignedOnlineMeeting"))
    assert assigned["joinUrl"].endswith(f"/bmauldin/{assigned['onlineMeetingId']}")
    response = await open_page(helpers, assigned["joinUrl"])
    assert response.status_code == 200
    assert assigned["onlineMeetingId"] in response.text


async def test_configured_meet_url_is_the_join_url_origin(tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(
        database=f"sqlite:///{tmp_path / 'meet.db'}",
        domains="contoso.com",
        meet_url="https://meet.contoso.com/",
    )
    async with running_app(settings, clock) as (_, helpers):
        bill = await helpers.session("bill")
        meeting = await created(helpers, bill, {"subject": "Elsewhere"})
        assert (
            meeting["joinUrl"] == f"https://meet.contoso.com/bmauldin/{meeting['onlineMeetingId']}"
        )
        response = await open_page(helpers, meeting["joinUrl"])
        assert response.status_code == 200 and "Elsewhere" in response.text


async def test_the_page_finds_organizers_in_every_organisation_domain(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A joinUrl names the organizer by user part only: the page tries each domain
    (adatum.com sorts first, so Bill's contoso.com meeting is found on the second try)."""
    settings = Settings(
        database=f"sqlite:///{tmp_path / 'two.db'}", domains="adatum.com,contoso.com"
    )
    async with running_app(settings, clock) as (_, helpers):
        bill = await helpers.session("bill")
        meeting = await created(helpers, bill, {"subject": "Two domains"})
        meeting_id = meeting["onlineMeetingId"]
        for path in (f"/bmauldin/{meeting_id}", f"/BMauldin/{meeting_id}"):
            response = await helpers.client.get(path)
            assert response.status_code == 200 and "Two domains" in response.text, path
        assert (await helpers.client.get(f"/alice/{meeting_id}")).status_code == 404


async def test_a_user_part_a_path_must_escape_still_opens_its_page(
    helpers: Helpers, built: Built
) -> None:
    """A SIP user part may hold ``%`` (and other characters a path escapes): the joinUrl
    carries it percent-encoded, and the page decodes it back to the same organizer."""
    uri, password = "sip:pct%41x.o'neil@contoso.com", "pct-pass"
    await built.storage.users.add(
        User(uri=uri, name="Pct", password_hash=CHEAP_PASSWORDS.hash(password))
    )
    response = await helpers.client.post(
        "/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": uri[4:], "password": password},
    )
    token = response.json()["access_token"]
    app = await helpers.client.post(
        "/ucwa/oauth/v1/applications",
        json={"UserAgent": "t", "EndpointId": "e", "Culture": "en-US"},
        headers={"Authorization": f"Bearer {token}"},
    )
    who = Session(token=token, app=app.json())
    meeting = await created(helpers, who, {"subject": "Escaped organizer"})
    assert path_of(meeting["joinUrl"]) == f"/pct%2541x.o%27neil/{meeting['onlineMeetingId']}"
    page = await open_page(helpers, meeting["joinUrl"])
    assert page.status_code == 200 and "Escaped organizer" in page.text


async def test_page_is_gzipped_when_asked(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "Compressed"})
    for path in (path_of(meeting["joinUrl"]), "/bmauldin/ZZZZ9999"):  # the page and the 404
        async with helpers.client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as got:
            raw = b"".join([chunk async for chunk in got.aiter_raw()])
        assert got.status_code in (200, 404)
        assert got.headers["content-type"] == "text/html; charset=utf-8"
        assert got.headers["content-encoding"] == "gzip"
        assert int(got.headers["content-length"]) == len(raw)
        assert b"<!DOCTYPE html>" in gzip.decompress(raw)
        plain = await helpers.client.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content.startswith(b"<!DOCTYPE html>")
