"""PUT and DELETE on myOnlineMeeting over HTTP, in JSON: If-Match rules (428/412), new ETags,
read-only properties, whole-representation round trips, replace semantics, validation, lost
updates, 404 for meetings that are not the caller's, 405 for unsupported methods.

Spec: UCWA-MEETINGS.md §2.0.1, §2.0.5, §2.0.3, §2.6.3, §3.3 steps 5-6, §4.8, E7-E10. (Split from
test_meetings.py to keep both files short; PUT of the assigned meeting is in
test_assigned_meeting.py, XML PUT in test_meetings_xml.py.)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from openucwa.domain.clock import FakeClock
from tests.api.meetings_support import (
    ALICE,
    TOSH,
    aspnet,
    assert_error,
    assert_validation,
    created,
    get_json,
    markers,
    put,
    self_href,
)
from tests.conftest import Helpers


async def test_put_preconditions(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "v1"})
    missing = await put(helpers, bill, self_href(meeting), {"subject": "v2"}, None)
    assert_error(missing, 428, "PreconditionRequired", None)
    wrong = await put(helpers, bill, self_href(meeting), {"subject": "v2"}, '"12345"')
    assert_error(wrong, 412, "PreconditionFailed", None)
    ok = await put(helpers, bill, self_href(meeting), {"subject": "v2"}, f'"{meeting["etag"]}"')
    assert ok.status_code == 200
    stale = await put(helpers, bill, self_href(meeting), {"subject": "v3"}, f'"{meeting["etag"]}"')
    assert_error(stale, 412, "PreconditionFailed", None)
    current = (await helpers.client.get(self_href(meeting), headers=bill.headers)).json()
    assert current["subject"] == "v2" and current["etag"] == ok.json()["etag"]


@pytest.mark.parametrize("form", ['"{}"', "{}", 'W/"{}"'])
async def test_put_with_each_if_match_form(helpers: Helpers, form: str) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "before", "attendees": [ALICE]})
    response = await put(
        helpers, bill, self_href(meeting), {"subject": "after"}, form.format(meeting["etag"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["etag"] != meeting["etag"]
    assert response.headers["etag"] == f'"{body["etag"]}"'
    assert body["subject"] == "after" and body["attendees"] == []
    assert body["onlineMeetingId"] == meeting["onlineMeetingId"]


async def test_put_of_the_whole_get_body_ignores_read_only_properties(
    helpers: Helpers, clock: FakeClock
) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "Quarterly", "attendees": [ALICE]})
    ext = await helpers.client.post(
        meeting["_links"]["onlineMeetingExtensions"]["href"],
        json={"id": "e1", "type": "Undefined"},
        headers=bill.headers,
    )
    assert ext.status_code == 201
    body = (await helpers.client.get(self_href(meeting), headers=bill.headers)).json()
    assert body["_embedded"]["onlineMeetingExtension"]
    later = clock.now() + timedelta(days=5)
    body |= {
        "subject": "Important details",
        "expirationTime": later.strftime("%Y-%m-%dT%H:%M:%S.000Z"),  # as the trace sends it
        "someFutureProperty": {"nested": True},
        "onlineMeetingId": "HACKED00",
        "conferenceId": "1",
        "joinUrl": "https://evil.example/x/y",
        "onlineMeetingUri": "sip:evil@contoso.com;gruu;opaque=app:conf:focus:id:HACKED00",
        "organizerUri": ALICE,
        "legacyOnlineMeetingUri": "conf:nothing",
        "onlineMeetingRel": "myAssignedOnlineMeeting",
    }
    response = await put(helpers, bill, self_href(meeting), body, f'"{meeting["etag"]}"')
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["subject"] == "Important details"
    assert after["expirationTime"] == aspnet(later)
    for name in (
        "onlineMeetingId", "conferenceId", "joinUrl", "onlineMeetingUri", "organizerUri",
        "legacyOnlineMeetingUri", "onlineMeetingRel",
    ):  # fmt: skip
        assert after[name] == meeting[name], name
    assert self_href(after) == self_href(meeting)
    assert markers(after) == markers(meeting)
    assert "someFutureProperty" not in after


async def test_put_replaces_every_writable_property(helpers: Helpers, clock: FakeClock) -> None:
    bill = await helpers.session("bill")
    defaults_url = bill.link("onlineMeetings", "onlineMeetingDefaultValues")
    defaults = (await helpers.client.get(defaults_url, headers=bill.headers)).json()
    meeting = await created(
        helpers,
        bill,
        {
            "subject": "full",
            "description": "d",
            "attendees": [ALICE],
            "leaders": [TOSH],
            "accessLevel": "Everyone",
            "automaticLeaderAssignment": "Everyone",
            "lobbyBypassForPhoneUsers": "Enabled",
            "expirationTime": aspnet(clock.now() + timedelta(days=30)),
        },
    )
    clock.advance(300)
    response = await put(helpers, bill, self_href(meeting), {"subject": "only"}, meeting["etag"])
    assert response.status_code == 200, response.text
    after = response.json()
    assert (after["subject"], after["description"]) == ("only", "")
    assert after["attendees"] == after["leaders"] == []
    for name in ("accessLevel", "automaticLeaderAssignment", "lobbyBypassForPhoneUsers"):
        assert after[name] == defaults[name], name
    assert after["expirationTime"] == aspnet(clock.now() + timedelta(hours=8))


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"entryExitAnnouncement": "Enabled"}, "entryExitAnnouncement"),
        ({"accessLevel": "Nobody"}, "accessLevel"),
        ({"subject": "y" * 251}, "subject"),
        ({"attendees": ["sip:x@fabrikam.com"]}, "attendees"),
        ({"leaders": ["sip:x@fabrikam.com"]}, "leaders"),
        ({"expirationTime": "/Date(0)/"}, "expirationTime"),
        ({"subject": {"text": "x"}}, "subject"),
    ],
)
async def test_put_validates_like_post(helpers: Helpers, body: dict[str, Any], name: str) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "unchanged"})
    assert_validation(await put(helpers, bill, self_href(meeting), body, meeting["etag"]), name)
    current = (await helpers.client.get(self_href(meeting), headers=bill.headers)).json()
    assert current["etag"] == meeting["etag"] and current["subject"] == "unchanged"


async def test_concurrent_updates_one_wins_one_gets_412(helpers: Helpers) -> None:
    first = await helpers.session("bill", "endpoint-1")
    second = await helpers.session("bill", "endpoint-2")
    meeting = await created(helpers, first, {"subject": "start"})
    seen = []
    for who in (first, second):
        listing = await helpers.client.get(
            who.link("onlineMeetings", "myOnlineMeetings"), headers=who.headers
        )
        (mine,) = listing.json()["_embedded"]["myOnlineMeeting"]
        seen.append(mine)
    assert seen[0]["etag"] == seen[1]["etag"] == meeting["etag"]
    responses = await asyncio.gather(
        *(
            put(helpers, who, self_href(m), m | {"subject": f"by {i}"}, f'"{m["etag"]}"')
            for i, (who, m) in enumerate(zip((first, second), seen, strict=True))
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    current = (await helpers.client.get(self_href(meeting), headers=first.headers)).json()
    assert (current["subject"], current["etag"]) == (winner["subject"], winner["etag"])


async def test_unsupported_methods_are_405(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "methods"})
    collection = bill.link("onlineMeetings", "myOnlineMeetings")
    extensions = meeting["_links"]["onlineMeetingExtensions"]["href"]
    for method, href in (
        ("PUT", collection),
        ("DELETE", collection),
        ("POST", self_href(meeting)),
        ("PUT", extensions),
        ("DELETE", extensions),
    ):
        headers = {**bill.headers, "If-Match": f'"{meeting["etag"]}"'}
        response = await helpers.client.request(method, href, json={}, headers=headers)
        assert_error(response, 405, "MethodNotAllowed", None)
    assert (await get_json(helpers, bill, self_href(meeting)))["etag"] == meeting["etag"]


async def test_other_users_and_unknown_meetings_are_not_found(helpers: Helpers) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    meeting = await created(helpers, bill, {"subject": "private"})
    in_alices_app = (
        alice.link("onlineMeetings", "myOnlineMeetings") + "/" + meeting["onlineMeetingId"]
    )
    unknown = bill.link("onlineMeetings", "myOnlineMeetings") + "/ZZZZ9999"
    for who, href in ((alice, self_href(meeting)), (alice, in_alices_app), (bill, unknown)):
        for method in ("GET", "DELETE", "PUT"):
            headers = {**who.headers, "If-Match": f'"{meeting["etag"]}"'}
            response = await helpers.client.request(method, href, json={}, headers=headers)
            assert response.status_code == 404, (method, href, response.text)
            assert response.json()["code"] == "NotFound"
    still = await helpers.client.get(self_href(meeting), headers=bill.headers)
    assert still.json()["subject"] == "private"


async def test_delete(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "gone soon"})
    keep = await created(helpers, bill, {"subject": "kept"})
    response = await helpers.client.delete(self_href(meeting), headers=bill.headers)
    assert response.status_code == 204 and response.content == b""
    again = await helpers.client.get(self_href(meeting), headers=bill.headers)
    assert again.status_code == 404 and again.json()["code"] == "NotFound"
    twice = await helpers.client.delete(self_href(meeting), headers=bill.headers)
    assert twice.status_code == 404
    listing = await helpers.client.get(
        bill.link("onlineMeetings", "myOnlineMeetings"), headers=bill.headers
    )
    ids = [m["onlineMeetingId"] for m in listing.json()["_embedded"]["myOnlineMeeting"]]
    assert ids == [keep["onlineMeetingId"]]
