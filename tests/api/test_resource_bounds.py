"""Bounds a client cannot push past: the cache of encoded meeting GETs holds a bounded number
of bytes whatever Host names and bodies clients send, a meeting holds a bounded number of
extensions, and the token endpoint reads no more than its form limit in any encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from openucwa.domain.clock import FakeClock
from openucwa.settings import Settings
from openucwa.web import respond
from openucwa.web.resources.token import MAX_FORM_BYTES
from tests.api.meetings_support import assert_error, created, running_app, self_href
from tests.conftest import Helpers

CONTOSO = [f"sip:u{i:04d}{'x' * 200}@contoso.com" for i in range(1000)]


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    respond.ENCODED.clear()


async def test_large_meetings_are_served_but_not_kept(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "large", "attendees": CONTOSO})
    for i in range(20):
        headers = {**bill.headers, "Host": f"h{i}.example"}
        response = await helpers.client.get(self_href(meeting), headers=headers)
        assert response.status_code == 200
        assert len(response.content) > respond.ENCODED.max_body
        assert response.json()["attendees"] == [a.lower() for a in CONTOSO]
    assert respond.ENCODED.bytes == 0


async def test_the_cache_stays_within_its_byte_budget(
    helpers: Helpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(respond.ENCODED, "budget", 20_000)
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "small"})
    bodies = set()
    for i in range(50):  # every Host name is a key of its own
        headers = {**bill.headers, "Host": f"host{i}.example"}
        response = await helpers.client.get(self_href(meeting), headers=headers)
        assert response.status_code == 200
        assert response.json()["joinUrl"].startswith(f"http://host{i}.example/")
        bodies.add(response.content)
        assert respond.ENCODED.bytes <= 20_000
    assert len(bodies) == 50
    # The newest are still kept and served: the same bytes come back.
    again = await helpers.client.get(
        self_href(meeting), headers={**bill.headers, "Host": "host49.example"}
    )
    assert again.content in bodies and respond.ENCODED.bytes > 0


async def test_a_meeting_holds_a_bounded_number_of_extensions(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = Settings(database=f"sqlite:///{tmp_path / 'ext.db'}", max_extensions_per_meeting=3)
    async with running_app(settings, clock) as (_, helpers):
        bill = await helpers.session("bill")
        meeting = await created(helpers, bill, {"subject": "few extensions"})
        url = meeting["_links"]["onlineMeetingExtensions"]["href"]
        for i in range(3):
            response = await helpers.client.post(url, json={"id": f"e{i}"}, headers=bill.headers)
            assert response.status_code == 201
        refused = await helpers.client.post(url, json={"id": "e3"}, headers=bill.headers)
        assert_error(refused, 409, "Conflict", "LimitExceeded")
        assert "3" in refused.json()["message"]
        # A PUT of an existing extension is not a new one; a DELETE makes room.
        ext = await helpers.client.get(f"{url}/e0", headers=bill.headers)
        headers = {**bill.headers, "If-Match": ext.headers["etag"]}
        put = await helpers.client.put(f"{url}/e0", json={"k": "v"}, headers=headers)
        assert put.status_code == 200
        assert (await helpers.client.delete(f"{url}/e1", headers=bill.headers)).status_code == 204
        again = await helpers.client.post(url, json={"id": "e3"}, headers=bill.headers)
        assert again.status_code == 201
        listed = await helpers.client.get(url, headers=bill.headers)
        ids = [e["id"] for e in listed.json()["_embedded"]["onlineMeetingExtension"]]
        assert ids == ["e0", "e2", "e3"]


async def test_the_default_extension_cap_is_32(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "many extensions"})
    url = meeting["_links"]["onlineMeetingExtensions"]["href"]
    for i in range(32):
        response = await helpers.client.post(url, json={"id": f"e{i}"}, headers=bill.headers)
        assert response.status_code == 201, i
    refused = await helpers.client.post(url, json={"id": "one-more"}, headers=bill.headers)
    assert_error(refused, 409, "Conflict", "LimitExceeded")


async def test_a_meetings_extensions_hold_a_bounded_number_of_bytes(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A list embeds every extension of every meeting: without a bound on their size one user
    could make a list of gigabytes (32 extensions of 256 KiB on each of 1000 meetings)."""
    settings = Settings(
        database=f"sqlite:///{tmp_path / 'bytes.db'}", max_extension_bytes_per_meeting=2000
    )
    async with running_app(settings, clock) as (_, helpers):
        bill = await helpers.session("bill")
        meeting = await created(helpers, bill, {"subject": "big extensions"})
        url = meeting["_links"]["onlineMeetingExtensions"]["href"]
        first = await helpers.client.post(
            url, json={"id": "a", "v": "x" * 1500}, headers=bill.headers
        )
        assert first.status_code == 201, first.text
        refused = await helpers.client.post(
            url, json={"id": "b", "v": "y" * 600}, headers=bill.headers
        )
        assert_error(refused, 409, "Conflict", "LimitExceeded")
        assert "2000 bytes" in refused.json()["message"]
        small = await helpers.client.post(url, json={"id": "b", "v": "y"}, headers=bill.headers)
        assert small.status_code == 201
        # Growing one that is there counts the others, not its own old values.
        headers = {**bill.headers, "If-Match": first.headers["etag"]}
        grown = await helpers.client.put(f"{url}/a", json={"v": "z" * 1900}, headers=headers)
        assert grown.status_code == 200, grown.text
        too_big = {**bill.headers, "If-Match": grown.headers["etag"]}
        refused = await helpers.client.put(f"{url}/a", json={"v": "z" * 2000}, headers=too_big)
        assert_error(refused, 409, "Conflict", "LimitExceeded")
        kept = await helpers.client.get(f"{url}/a", headers=bill.headers)
        assert kept.json()["v"] == "z" * 1900


async def test_a_multipart_token_form_is_held_to_the_form_limit(helpers: Helpers) -> None:
    """The url-encoded form had a limit; multipart bodies were read whole (30 MB and more)."""
    boundary = "XX"
    filler = b"".join(
        b'--XX\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n' % i + b"x" * 4096 + b"\r\n"
        for i in range(8)
    )
    fields = b"".join(
        b'--XX\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k, v)
        for k, v in ((b"grant_type", b"password"), (b"username", b"bmauldin@contoso.com"))
    )
    body = filler + fields + b'--XX\r\nContent-Disposition: form-data; name="password"\r\n\r\n'
    body += b"bill-pass\r\n--XX--\r\n"
    assert len(body) > MAX_FORM_BYTES
    content_type = f"multipart/form-data; boundary={boundary}"
    response = await helpers.client.post(
        "/WebTicket/oauthtoken", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "16384" in response.json()["error_description"]
    # The same form under the limit signs in.
    small = fields + b'--XX\r\nContent-Disposition: form-data; name="password"\r\n\r\n'
    small += b"bill-pass\r\n--XX--\r\n"
    response = await helpers.client.post(
        "/WebTicket/oauthtoken", content=small, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200 and response.json()["access_token"].startswith("cwt=")
