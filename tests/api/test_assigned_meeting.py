"""myAssignedOnlineMeeting over HTTP: where it is linked from, its rel and onlineMeetingRel (E21),
its stability across GETs, applications and tokens, PUT with If-Match, and DELETE refused.
Spec: UCWA-MEETINGS.md §1.2, §2.6.1-2.6.3, §2.6.6, E21, E22."""

from __future__ import annotations

from typing import Any

from tests.api.meetings_support import (
    ALICE,
    BILL,
    PROPERTIES,
    XML,
    assert_error,
    created,
    get_json,
    markers,
    put,
    self_href,
    xml_props,
    xml_root,
)
from tests.conftest import Helpers, Session


def assigned_link(who: Session) -> str:
    return who.link("onlineMeetings", "myAssignedOnlineMeeting")


async def assigned(helpers: Helpers, who: Session) -> dict[str, Any]:
    response = await helpers.client.get(assigned_link(who), headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{response.json()["etag"]}"'
    return dict(response.json())


async def test_the_link_resolves_to_the_assigned_meeting(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await assigned(helpers, bill)
    assert meeting["rel"] == "myAssignedOnlineMeeting"
    assert meeting["onlineMeetingRel"] == "myAssignedOnlineMeeting"
    assert meeting.keys() >= PROPERTIES
    assert self_href(meeting) == assigned_link(bill)
    assert meeting["organizerUri"] == BILL
    meeting_id = meeting["onlineMeetingId"]
    assert meeting["onlineMeetingUri"] == f"{BILL};gruu;opaque=app:conf:focus:id:{meeting_id}"
    assert meeting["joinUrl"].endswith(f"/bmauldin/{meeting_id}")
    assert meeting["conferenceId"].isdigit()
    assert meeting["_links"]["onlineMeetingExtensions"]["href"].startswith(self_href(meeting))
    assert len(markers(meeting)) == 1
    for name in ("accessLevel", "automaticLeaderAssignment", "entryExitAnnouncement"):
        assert meeting[name] not in ("", "None"), name


async def test_every_link_to_it_agrees(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    href = assigned_link(bill)
    dashboard = await get_json(helpers, bill, bill.link("onlineMeetings", "self"))
    assert dashboard["_links"]["myAssignedOnlineMeeting"]["href"] == href
    eligible_url = bill.link("onlineMeetings", "onlineMeetingEligibleValues")
    eligible = await get_json(helpers, bill, eligible_url)
    assert eligible["_links"]["myAssignedOnlineMeeting"]["href"] == href
    listing = await get_json(helpers, bill, bill.link("onlineMeetings", "myOnlineMeetings"))
    (embedded,) = listing["_embedded"]["myAssignedOnlineMeeting"]
    assert self_href(embedded) == href
    assert embedded == await assigned(helpers, bill)


async def test_stable_across_gets_applications_and_tokens(helpers: Helpers) -> None:
    first = await helpers.session("bill", "endpoint-1")
    original = await assigned(helpers, first)
    assert await assigned(helpers, first) == original
    stable = ("onlineMeetingId", "conferenceId", "onlineMeetingUri", "joinUrl", "etag")
    for endpoint in ("endpoint-2", "endpoint-1"):  # a new application, then a new token
        other = await helpers.session("bill", endpoint)
        seen = await assigned(helpers, other)
        assert {n: seen[n] for n in stable} == {n: original[n] for n in stable}
    second = await helpers.session("bill", "endpoint-2")
    assert assigned_link(second) != assigned_link(first)  # URLs are per application
    alices = await assigned(helpers, await helpers.session("alice"))
    assert alices["onlineMeetingId"] != original["onlineMeetingId"]
    assert alices["organizerUri"] == ALICE


async def test_not_listed_among_scheduled_meetings(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await assigned(helpers, bill)
    scheduled = await created(helpers, bill, {"subject": "scheduled"})
    listing = await get_json(helpers, bill, bill.link("onlineMeetings", "myOnlineMeetings"))
    ids = [m["onlineMeetingId"] for m in listing["_embedded"]["myOnlineMeeting"]]
    assert ids == [scheduled["onlineMeetingId"]]
    assert meeting["onlineMeetingId"] not in ids


async def test_put_with_if_match(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await assigned(helpers, bill)
    href = assigned_link(bill)
    body = meeting | {"subject": "Bill's bridge", "attendees": [ALICE], "accessLevel": "Locked"}
    assert_error(await put(helpers, bill, href, body, None), 428, "PreconditionRequired", None)
    assert_error(await put(helpers, bill, href, body, '"0"'), 412, "PreconditionFailed", None)
    response = await put(helpers, bill, href, body, f'"{meeting["etag"]}"')
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["etag"] != meeting["etag"]
    assert response.headers["etag"] == f'"{after["etag"]}"'
    assert (after["rel"], after["onlineMeetingRel"]) == (
        "myAssignedOnlineMeeting",
        "myAssignedOnlineMeeting",
    )
    assert (after["subject"], after["attendees"], after["accessLevel"]) == (
        "Bill's bridge",
        [ALICE],
        "Locked",
    )
    assert after["onlineMeetingId"] == meeting["onlineMeetingId"]
    elsewhere = await assigned(helpers, await helpers.session("bill", "endpoint-7"))
    assert (elsewhere["subject"], elsewhere["etag"]) == ("Bill's bridge", after["etag"])
    bad = await put(helpers, bill, href, {"leaders": ["sip:z@fabrikam.com"]}, after["etag"])
    assert_error(bad, 400, "BadRequest", "ParameterValidationFailure")
    assert "leaders" in bad.json()["parameters"]


async def test_delete_is_forbidden(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await assigned(helpers, bill)
    response = await helpers.client.delete(assigned_link(bill), headers=bill.headers)
    assert_error(response, 403, "Forbidden", None)
    assert await assigned(helpers, bill) == meeting


async def test_xml_rel_and_extensions(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    response = await helpers.client.get(assigned_link(bill), headers={**bill.headers, **XML})
    root = xml_root(response)
    assert root.attrib["rel"] == "myAssignedOnlineMeeting"
    assert root.attrib["href"] == assigned_link(bill)
    assert xml_props(root)["onlineMeetingRel"] == "myAssignedOnlineMeeting"
    meeting = await assigned(helpers, bill)
    ext_url = meeting["_links"]["onlineMeetingExtensions"]["href"]
    ext = await helpers.client.post(ext_url, json={"id": "bridge"}, headers=bill.headers)
    assert ext.status_code == 201, ext.text
    again = await assigned(helpers, bill)
    assert [e["id"] for e in again["_embedded"]["onlineMeetingExtension"]] == ["bridge"]
    assert again["etag"] == meeting["etag"]  # embedded changes leave the container's ETag
