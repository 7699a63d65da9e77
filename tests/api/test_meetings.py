"""myOnlineMeetings (GET, POST) and myOnlineMeeting (GET) over HTTP, in JSON; PUT and DELETE
are in test_meeting_updates.py, XML in test_meetings_xml.py.

Spec: UCWA-MEETINGS.md §2.0.4-2.0.5, §2.6.0-2.6.3, §3.3, §4.2, §4.4, §4.8 and E1, E6-E12, E14,
E29, E46, E47. Every URL is taken from a response, except where a test deliberately aims at a
meeting that is not the caller's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.domain.ids import ConferenceIds
from openucwa.representation.resource import UCWA_NAMESPACE as NS
from openucwa.settings import Settings
from openucwa.web import respond
from tests.api.meetings_support import (
    ALICE,
    BILL,
    EPOCH,
    GUID,
    PROPERTIES,
    TOSH,
    aspnet,
    assert_error,
    assert_validation,
    created,
    get_json,
    markers,
    running_app,
    schedule,
    self_href,
)
from tests.conftest import BASE, Helpers


async def test_post_returns_the_full_meeting(helpers: Helpers, clock: FakeClock) -> None:
    bill = await helpers.session("bill")
    expires = clock.now() + timedelta(days=3, milliseconds=250)
    response = await schedule(
        helpers,
        bill,
        {
            "subject": "Quarterly sales numbers",
            "description": "Review",
            "attendees": [ALICE],
            "leaders": [TOSH],
            "accessLevel": "Invited",
            "automaticLeaderAssignment": "SameEnterprise",
            "lobbyBypassForPhoneUsers": "Enabled",
            "phoneUserAdmission": "Enabled",
            "expirationTime": aspnet(expires),
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert response.headers["location"] == self_href(body)
    assert response.headers["etag"] == f'"{body["etag"]}"' and body["etag"]
    assert body.keys() >= PROPERTIES
    meeting_id = body["onlineMeetingId"]
    assert re.fullmatch(r"[A-Z0-9]{8}", meeting_id)
    assert body["rel"] == "myOnlineMeeting"
    assert body["onlineMeetingRel"] == "myOnlineMeetings"
    assert body["organizerUri"] == BILL
    assert body["onlineMeetingUri"] == f"{BILL};gruu;opaque=app:conf:focus:id:{meeting_id}"
    legacy = re.fullmatch(r"conf:(.+)\?conversation-id=(.+)", body["legacyOnlineMeetingUri"])
    assert legacy and legacy[1] == body["onlineMeetingUri"] and GUID.match(legacy[2])
    assert body["joinUrl"] == f"{BASE}/bmauldin/{meeting_id}"
    assert body["conferenceId"].isdigit()
    assert (body["subject"], body["description"]) == ("Quarterly sales numbers", "Review")
    assert (body["attendees"], body["leaders"]) == ([ALICE], [TOSH])
    assert (body["accessLevel"], body["automaticLeaderAssignment"]) == ("Invited", "SameEnterprise")
    assert body["lobbyBypassForPhoneUsers"] == body["phoneUserAdmission"] == "Enabled"
    assert body["entryExitAnnouncement"] == "Disabled"
    assert body["expirationTime"] == aspnet(expires)
    assert b'"expirationTime":"\\/Date(' in response.content  # the ASP.NET escaped form
    guids = markers(body)
    assert len(guids) == 1 and GUID.match(guids[0])
    assert body["_links"]["onlineMeetingExtensions"]["href"].startswith(self_href(body) + "/")
    again = await helpers.client.get(response.headers["location"], headers=bill.headers)
    assert again.status_code == 200 and again.json()["onlineMeetingId"] == meeting_id


@pytest.mark.parametrize("body", [None, {}, b"{}"])
async def test_absent_properties_take_the_default_values(
    helpers: Helpers, clock: FakeClock, body: Any
) -> None:
    bill = await helpers.session("bill")
    defaults_url = bill.link("onlineMeetings", "onlineMeetingDefaultValues")
    defaults = (await helpers.client.get(defaults_url, headers=bill.headers)).json()
    clock.advance(543)  # less than the application idle timeout
    meeting = await created(helpers, bill, body)
    for name in ("accessLevel", "automaticLeaderAssignment", "entryExitAnnouncement"):
        assert meeting[name] == defaults[name]
    assert meeting["lobbyBypassForPhoneUsers"] == defaults["lobbyBypassForPhoneUsers"]
    assert meeting["expirationTime"] == aspnet(clock.now() + timedelta(hours=8))  # E29
    assert (meeting["subject"], meeting["description"]) == ("", "")
    assert meeting["attendees"] == meeting["leaders"] == []


@pytest.mark.parametrize("value", ["None", "none", "NONE"])
async def test_access_level_none_is_replaced_by_the_default(helpers: Helpers, value: str) -> None:
    bill = await helpers.session("bill")
    defaults_url = bill.link("onlineMeetings", "onlineMeetingDefaultValues")
    default = (await helpers.client.get(defaults_url, headers=bill.headers)).json()["accessLevel"]
    meeting = await created(helpers, bill, {"accessLevel": value})
    assert meeting["accessLevel"] == default != "None"


@pytest.mark.parametrize(
    ("name", "sent", "canonical"),
    [
        ("accessLevel", "everyone", "Everyone"),
        ("accessLevel", "LOCKED", "Locked"),
        ("automaticLeaderAssignment", "sameENTERPRISE", "SameEnterprise"),
        ("lobbyBypassForPhoneUsers", "enabled", "Enabled"),
        ("entryExitAnnouncement", "dIsAbLeD", "Disabled"),
        ("phoneUserAdmission", "ENABLED", "Enabled"),
        ("attendanceAnnouncementsStatus", "disabled", "Disabled"),  # E12 alias
    ],
)
async def test_enum_values_match_case_insensitively(
    helpers: Helpers, name: str, sent: str, canonical: str
) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {name: sent})
    shown = "entryExitAnnouncement" if name == "attendanceAnnouncementsStatus" else name
    assert meeting[shown] == canonical
    assert "attendanceAnnouncementsStatus" not in meeting


async def test_input_names_are_case_insensitive_and_the_canonical_name_wins(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    meeting = await created(
        helpers,
        bill,
        {
            "Subject": "Named",
            "ACCESSLEVEL": "Everyone",
            "entryExitAnnouncement": "Disabled",
            "attendanceAnnouncementsStatus": "Enabled",  # would be ineligible if it won
        },
    )
    assert (meeting["subject"], meeting["accessLevel"]) == ("Named", "Everyone")
    assert meeting["entryExitAnnouncement"] == "Disabled"


async def test_the_alias_is_validated_like_the_canonical_name(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    for value in ("Enabled", "Loud"):  # ineligible by default, unknown
        response = await schedule(helpers, bill, {"attendanceAnnouncementsStatus": value})
        assert_error(response, 400, "BadRequest", "ParameterValidationFailure")
        named = set(response.json()["parameters"])
        assert named & {"entryExitAnnouncement", "attendanceAnnouncementsStatus"}, named


def _iso(when: datetime, offset_minutes: int, digits: str) -> str:
    local = when.astimezone(timezone(timedelta(minutes=offset_minutes)))
    sign = "+" if offset_minutes >= 0 else "-"
    hh, mm = divmod(abs(offset_minutes), 60)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{digits}{sign}{hh:02d}:{mm:02d}"


@pytest.mark.parametrize(
    "form",
    ["plain", "escaped", "offset+", "offset-", "iso-z", "iso+0200-7digits", "iso-0730-7digits"],
)
async def test_expiration_time_input_forms(helpers: Helpers, clock: FakeClock, form: str) -> None:
    bill = await helpers.session("bill")
    when = clock.now() + timedelta(days=2, milliseconds=123)
    ms = (when - EPOCH) // timedelta(milliseconds=1)
    text = {
        "plain": f"/Date({ms})/",
        "escaped": f"\\/Date({ms})\\/",  # the raw JSON text "\/Date(ms)\/"
        "offset+": f"/Date({ms}+0100)/",
        "offset-": f"/Date({ms}-0500)/",
        "iso-z": when.strftime("%Y-%m-%dT%H:%M:%S.123Z"),
        "iso+0200-7digits": _iso(when, 120, "1234567"),
        "iso-0730-7digits": _iso(when, -450, "1239999"),
    }[form]
    meeting = await created(helpers, bill, b'{"expirationTime":"' + text.encode() + b'"}')
    assert meeting["expirationTime"] == f"/Date({ms})/"


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"entryExitAnnouncement": "Enabled"}, "entryExitAnnouncement"),  # not eligible
        ({"entryExitAnnouncement": "Unsupported"}, "entryExitAnnouncement"),
        ({"accessLevel": "Public"}, "accessLevel"),
        ({"automaticLeaderAssignment": "Sometimes"}, "automaticLeaderAssignment"),
        ({"lobbyBypassForPhoneUsers": "Maybe"}, "lobbyBypassForPhoneUsers"),
        ({"phoneUserAdmission": "Yes"}, "phoneUserAdmission"),
        ({"subject": "x" * 251}, "subject"),
        ({"attendees": ["sip:x@fabrikam.com"]}, "attendees"),
        ({"leaders": ["sip:x@fabrikam.com"]}, "leaders"),
        ({"attendees": [ALICE, "tel:+14255550100"]}, "attendees"),
        ({"leaders": ["not an address"]}, "leaders"),
        ({"subject": 42}, "subject"),
        ({"description": ["a"]}, "description"),
        ({"accessLevel": True}, "accessLevel"),
        ({"attendees": ALICE}, "attendees"),
        ({"leaders": [1, 2]}, "leaders"),
        ({"expirationTime": 1700000000000}, "expirationTime"),
        ({"expirationTime": "next tuesday"}, "expirationTime"),
        ({"expirationTime": "/Date(999999999999999)/"}, "expirationTime"),
        ({"expirationTime": "0000-01-01T00:00:00Z"}, "expirationTime"),
        ({"expirationTime": "2026-13-45T00:00:00Z"}, "expirationTime"),
    ],
)
async def test_invalid_input_is_rejected_naming_the_property(
    helpers: Helpers, body: dict[str, Any], name: str
) -> None:
    bill = await helpers.session("bill")
    assert_validation(await schedule(helpers, bill, body), name)
    listing = await helpers.client.get(
        bill.link("onlineMeetings", "myOnlineMeetings"), headers=bill.headers
    )
    assert listing.json().get("_embedded", {}).get("myOnlineMeeting", []) == []


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(days=-365), True),
        (timedelta(days=-1), True),
        (timedelta(days=3650), True),
        (timedelta(days=-370), False),
        (timedelta(days=3660), False),
        (timedelta(days=36500), False),
    ],
)
async def test_expiration_time_window(
    helpers: Helpers, clock: FakeClock, offset: timedelta, accepted: bool
) -> None:
    bill = await helpers.session("bill")
    response = await schedule(helpers, bill, {"expirationTime": aspnet(clock.now() + offset)})
    if accepted:
        assert response.status_code == 201, response.text
        assert response.json()["expirationTime"] == aspnet(clock.now() + offset)
    else:
        assert_validation(response, "expirationTime")


async def test_subject_of_250_characters_and_the_organizer_as_leader(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    leaders = [BILL, ALICE, "sip:BMauldin@Contoso.com"]
    meeting = await created(helpers, bill, {"subject": "s" * 250, "leaders": leaders})
    assert meeting["subject"] == "s" * 250
    assert meeting["leaders"] == [ALICE]  # E14: the organizer is not echoed


@pytest.fixture
async def capped(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Helpers]:
    """An app built by the composition root with max_meetings_per_user=3."""
    db = f"sqlite:///{tmp_path / 'capped.db'}"
    settings = Settings(database=db, domains="contoso.com", max_meetings_per_user=3)
    async with running_app(settings, clock) as (_, helpers):
        yield helpers


async def test_too_many_online_meetings(capped: Helpers) -> None:
    bill = await capped.session("bill")
    meetings = [await created(capped, bill, {"subject": f"m{i}"}) for i in range(3)]
    assert_error(await schedule(capped, bill), 409, "Conflict", "TooManyOnlineMeetings")
    listing = await get_json(capped, bill, bill.link("onlineMeetings", "myOnlineMeetings"))
    assert len(listing["_embedded"]["myAssignedOnlineMeeting"]) == 1  # exists, does not count
    assert len(listing["_embedded"]["myOnlineMeeting"]) == 3
    await created(capped, await capped.session("alice"), {"subject": "per organizer"})
    deleted = await capped.client.delete(self_href(meetings[0]), headers=bill.headers)
    assert deleted.status_code == 204
    await created(capped, bill, {"subject": "fits again"})
    assert_error(await schedule(capped, bill), 409, "Conflict", "TooManyOnlineMeetings")


async def test_the_cap_holds_under_concurrent_posts(capped: Helpers) -> None:
    bill = await capped.session("bill")
    posts = (schedule(capped, bill, {"subject": str(i)}) for i in range(6))
    responses = await asyncio.gather(*posts)
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 409, 409, 409]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json;charset=utf-8",
        "application/json; charset='utf-8'",
        "application/vnd.microsoft.com.ucwa+json",
    ],
)
async def test_json_content_type_variants(helpers: Helpers, content_type: str) -> None:
    bill = await helpers.session("bill")
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    headers = {**bill.headers, "Content-Type": content_type}
    response = await helpers.client.post(url, content=b'{"subject":"typed"}', headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["subject"] == "typed"


async def test_unreadable_bodies(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    for content_type, body, status, subcode in (
        ("text/plain", b"subject=x", 415, "UnsupportedMediaType"),
        ("application/json", b'{"subject":', 400, "DeserializationFailure"),
        ("application/json", b'["subject"]', 400, "DeserializationFailure"),
    ):
        headers = {**bill.headers, "Content-Type": content_type}
        response = await helpers.client.post(url, content=body, headers=headers)
        code = "UnsupportedMediaType" if status == 415 else "BadRequest"
        assert_error(response, status, code, subcode)


async def test_query_parameters_are_input_and_if_match_is_ignored_on_post(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    url = bill.link("onlineMeetings", "myOnlineMeetings") + "?subject=FromQuery&accessLevel=locked"
    headers = {**bill.headers, "If-Match": '"whatever"'}
    response = await helpers.client.post(url, json={"subject": "FromBody"}, headers=headers)
    assert response.status_code == 201, response.text
    assert (response.json()["subject"], response.json()["accessLevel"]) == ("FromBody", "Locked")


async def test_fifty_meetings_get_distinct_ids(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meetings = [await created(helpers, bill, {"subject": str(i)}) for i in range(50)]
    ids = {m["onlineMeetingId"] for m in meetings}
    conference_ids = {m["conferenceId"] for m in meetings}
    assert len(ids) == len(conference_ids) == 50
    assert all(re.fullmatch(r"[A-Z0-9]{8}", i) for i in ids)
    assert all(c.isdigit() for c in conference_ids)
    assert len({self_href(m) for m in meetings}) == 50


async def test_list_embeds_arrays_of_full_meetings(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    first = await created(helpers, bill, {"subject": "one"})
    second = await created(helpers, bill, {"subject": "two", "attendees": [ALICE]})
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    response = await helpers.client.get(url, headers=bill.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["rel"] == "myOnlineMeetings" and body["_links"]["self"]["href"] == url
    scheduled = body["_embedded"]["myOnlineMeeting"]
    assert isinstance(scheduled, list)
    assert {m["onlineMeetingId"]: m["etag"] for m in scheduled} == {
        first["onlineMeetingId"]: first["etag"],
        second["onlineMeetingId"]: second["etag"],
    }
    for meeting in scheduled:
        assert meeting.keys() >= PROPERTIES and meeting["rel"] == "myOnlineMeeting"
        assert len(markers(meeting)) == 1 and "self" in meeting["_links"]
    assigned = body["_embedded"]["myAssignedOnlineMeeting"]
    assert isinstance(assigned, list) and len(assigned) == 1
    assert assigned[0]["rel"] == "myAssignedOnlineMeeting" and assigned[0].keys() >= PROPERTIES
    assert self_href(assigned[0]) == bill.link("onlineMeetings", "myAssignedOnlineMeeting")


async def test_attendees_come_back_as_sent(helpers: Helpers) -> None:
    """The ScheduleAnOnlineMeeting trace sends and gets back ``sip:Chris@contoso.com``."""
    bill = await helpers.session("bill")
    sent = ["sip:Chris@contoso.com", "sip:Alex@contoso.com"]
    meeting = await created(helpers, bill, {"attendees": sent, "leaders": ["Alex@contoso.com"]})
    assert meeting["attendees"] == sent
    assert meeting["leaders"] == ["sip:Alex@contoso.com"]
    again = await helpers.client.get(self_href(meeting), headers=bill.headers)
    assert again.json()["attendees"] == sent


async def test_delete_honours_if_match_when_given(helpers: Helpers) -> None:
    """RFC 9110 §13.1.1: a DELETE whose If-Match names another ETag is not performed (412);
    without If-Match, or with ``*`` or the current ETag, it is."""
    bill = await helpers.session("bill")
    for if_match, status in (('"stale"', 412), ("*", 204), (None, 204), ("{etag}", 204)):
        meeting = await created(helpers, bill, {"subject": "to delete"})
        headers = dict(bill.headers)
        if if_match is not None:
            headers["If-Match"] = if_match.format(etag=meeting["etag"])
        response = await helpers.client.delete(self_href(meeting), headers=headers)
        assert response.status_code == status, (if_match, response.text)
        if status == 412:
            assert response.json()["code"] == "PreconditionFailed"
            still = await helpers.client.get(self_href(meeting), headers=bill.headers)
            assert still.status_code == 200


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_long_list_is_whole_and_in_order(
    helpers: Helpers, monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    """Past one page (32 meetings) the list is read and encoded a page at a time (web/respond.py
    render_stream): the answer is the same, in creation order, in JSON, XML and gzip; HEAD and
    batch parts get it too. Up to ``WHOLE_UP_TO`` bytes it carries its Content-Length
    (CLIENT-COMPAT: a client reads exactly that many bytes); past that it is sent as it is
    made, chunked, without one."""
    if streamed:
        monkeypatch.setattr(respond, "WHOLE_UP_TO", 1000)
    bill = await helpers.session("bill")
    subjects = [f"meeting {i:03d}" for i in range(70)]
    for subject in subjects:
        await created(helpers, bill, {"subject": subject})
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    plain = {**bill.headers, "Accept-Encoding": "identity"}  # httpx asks for gzip by default
    response = await helpers.client.get(url, headers=plain)
    assert response.status_code == 200
    if streamed:
        assert "content-length" not in response.headers
    else:
        assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["vary"] == "Accept, Accept-Encoding"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert [m["subject"] for m in body["_embedded"]["myOnlineMeeting"]] == subjects
    assert len(body["_embedded"]["myAssignedOnlineMeeting"]) == 1
    assert body["_links"]["self"]["href"] == url and body["rel"] == "myOnlineMeetings"
    xml = await helpers.client.get(url, headers={**bill.headers, "Accept": "application/xml"})
    assert xml.status_code == 200 and xml.content.count(b'rel="myOnlineMeeting"') == 70
    root = ElementTree.fromstring(xml.content)  # well-formed, whole
    assert len(root.findall(f"{{{NS}}}resource[@rel='myOnlineMeeting']")) == 70
    zipped = await helpers.client.get(url, headers={**bill.headers, "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == body  # httpx decompresses
    assert ("content-length" in zipped.headers) is not streamed
    head = await helpers.client.head(url, headers=plain)
    assert head.status_code == 200 and head.content == b""
    assert head.headers.get("content-length") == response.headers.get("content-length")
    batch = await helpers.client.post(
        bill.link("batch"),
        content=(
            b"--b\r\nContent-Type: application/http; msgtype=request\r\n\r\n"
            b"GET " + url.encode() + b" HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: " + bill.headers["Authorization"].encode() + b"\r\n"
            b"Accept: application/json\r\n\r\n--b--\r\n"
        ),
        headers={**bill.headers, "Content-Type": "multipart/batching;boundary=b"},
    )
    assert batch.status_code == 200, batch.text
    assert batch.content.count(b'"subject":"meeting ') == 70


async def test_no_scheduled_meetings_is_an_empty_array(helpers: Helpers) -> None:
    """CLIENT-COMPAT: clients read ``_embedded.myOnlineMeeting[]`` without a guard, also after
    deleting their last meeting."""
    bill = await helpers.session("bill")
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    body = (await helpers.client.get(url, headers=bill.headers)).json()
    assert body["_embedded"]["myOnlineMeeting"] == []
    assert len(body["_embedded"]["myAssignedOnlineMeeting"]) == 1
    meeting = await created(helpers, bill, {"subject": "one"})
    deleted = await helpers.client.delete(self_href(meeting), headers=bill.headers)
    assert deleted.status_code == 204
    body = (await helpers.client.get(url, headers=bill.headers)).json()
    assert body["_embedded"]["myOnlineMeeting"] == []


@pytest.mark.parametrize("form", ['"{}"', "{}", 'W/"{}"', '"0", "{}"'])
async def test_get_with_if_none_match(helpers: Helpers, form: str) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "cached"})
    response = await helpers.client.get(self_href(meeting), headers=bill.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{meeting["etag"]}"'
    assert response.json() == meeting
    headers = {**bill.headers, "If-None-Match": form.format(meeting["etag"])}
    cached = await helpers.client.get(self_href(meeting), headers=headers)
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["vary"] == response.headers["vary"] == "Accept, Accept-Encoding"
    headers["If-None-Match"] = '"not-the-etag"'
    assert (await helpers.client.get(self_href(meeting), headers=headers)).status_code == 200


async def test_meetings_survive_reopening_the_storage(
    helpers: Helpers, built: Built, settings: Settings, clock: FakeClock
) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "Persisted", "attendees": [ALICE]})
    ext = {"id": "keep", "type": "RoamedOrganizerData", "n": 5, "flag": False, "tags": ["a"]}
    ext_url = meeting["_links"]["onlineMeetingExtensions"]["href"]
    assert (await helpers.client.post(ext_url, json=ext, headers=bill.headers)).status_code == 201
    assigned = await get_json(helpers, bill, bill.link("onlineMeetings", "myAssignedOnlineMeeting"))
    await built.storage.close()
    async with running_app(settings, clock, add_users=False) as (_, reopened):
        again = await reopened.session("bill", "endpoint-9")
        listing = await get_json(reopened, again, again.link("onlineMeetings", "myOnlineMeetings"))
        (found,) = listing["_embedded"]["myOnlineMeeting"]
        for name in ("onlineMeetingId", "subject", "attendees", "etag", "conferenceId"):
            assert found[name] == meeting[name], name
        assert found["expirationTime"] == meeting["expirationTime"]
        old = await reopened.client.get(self_href(meeting), headers=bill.headers)
        assert old.status_code == 200 and old.json()["etag"] == meeting["etag"]
        (kept,) = old.json()["_embedded"]["onlineMeetingExtension"]
        assert {k: kept[k] for k in ext} == ext
        again_assigned = await get_json(
            reopened, again, again.link("onlineMeetings", "myAssignedOnlineMeeting")
        )
        assert again_assigned["onlineMeetingId"] == assigned["onlineMeetingId"]


async def test_conference_ids_follow_the_sequence_and_refused_posts_use_none(
    helpers: Helpers, built: Built
) -> None:
    """Conference ids are the keyed permutation of a durable sequence, taken in blocks: a POST
    refused for its input, or for the per-user cap, gives its id back to the next meeting."""
    bill = await helpers.session("bill")
    first = await created(helpers, bill, {"subject": "One"})
    refused = await schedule(helpers, bill, {"accessLevel": "Nobody"})
    assert refused.status_code == 400
    second = await created(helpers, bill, {"subject": "Two"})
    (key,) = built.storage.db.fetch_one("SELECT value FROM secrets") or ()
    ids = ConferenceIds(bytes(key))
    numbers = {ids.for_number(n): n for n in range(200)}
    assert numbers[second["conferenceId"]] == numbers[first["conferenceId"]] + 1


async def test_a_json_body_may_start_with_a_byte_order_mark(helpers: Helpers) -> None:
    """Some .NET and PowerShell writers put a UTF-8 BOM before the JSON; XML bodies with one
    were accepted already, JSON ones got 400 DeserializationFailure."""
    bill = await helpers.session("bill")
    response = await helpers.client.post(
        bill.link("onlineMeetings", "myOnlineMeetings"),
        content=b'\xef\xbb\xbf{"subject":"with a BOM","attendees":["sip:alice@contoso.com"]}',
        headers={**bill.headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["subject"] == "with a BOM"
    assert response.json()["attendees"] == ["sip:alice@contoso.com"]
    app = await helpers.client.post(
        "/ucwa/oauth/v1/applications",
        content=b'\xef\xbb\xbf{"UserAgent":"bom","EndpointId":"bom-1","Culture":"en-US"}',
        headers={**bill.headers, "Content-Type": "application/json"},
    )
    assert app.status_code == 201, app.text
