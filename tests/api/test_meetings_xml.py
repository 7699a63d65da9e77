"""myOnlineMeetings / myOnlineMeeting over HTTP in XML: `<input>` and `<resource>` request roots,
`<property>`/`<propertyList><item>`, ISO 8601 dates, `<reason>` errors, and PUT of the whole XML
representation. Spec: UCWA-MEETINGS.md §4.1, §4.3, §4.4, §4.6, E10, E38, E40."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import httpx
import pytest

from openucwa.domain.clock import FakeClock
from tests.api.meetings_support import (
    ALICE,
    BILL,
    GUID,
    MARKER,
    NS,
    PROPERTIES,
    TOSH,
    XML,
    aspnet,
    created,
    get_json,
    q,
    self_href,
    xml_input,
    xml_links,
    xml_props,
    xml_root,
)
from tests.conftest import Helpers, Session

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
VND_XML = "application/vnd.microsoft.com.ucwa+xml"


async def post_xml(
    helpers: Helpers, who: Session, body: bytes, content_type: str = "application/xml"
) -> httpx.Response:
    url = who.link("onlineMeetings", "myOnlineMeetings")
    headers = {**who.headers, **XML, "Content-Type": content_type}
    return await helpers.client.post(url, content=body, headers=headers)


async def put_xml(
    helpers: Helpers, who: Session, href: str, body: bytes, if_match: str | None
) -> httpx.Response:
    headers = {**who.headers, **XML, "Content-Type": "application/xml"}
    if if_match is not None:
        headers["If-Match"] = if_match
    return await helpers.client.put(href, content=body, headers=headers)


def assert_xml_error(
    response: httpx.Response, status: int, code: str, subcode: str | None, parameter: str = ""
) -> None:
    assert response.status_code == status, response.text
    root = xml_root(response)
    assert root.tag == q("reason")
    assert root.findtext(q("code")) == code
    assert root.findtext(q("subcode")) == subcode
    if parameter:
        names = [p.attrib["name"] for p in root.iterfind(f"{q('parameters')}/{q('property')}")]
        assert parameter in names, response.text


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_post_input_root(helpers: Helpers, clock: FakeClock) -> None:
    bill = await helpers.session("bill")
    when = clock.now() + timedelta(days=1, milliseconds=500)
    local = when.astimezone(timezone(timedelta(hours=2)))
    body = xml_input(
        "input",
        {
            "subject": "Quarterly &amp; sales",
            "description": "Review",
            "accessLevel": "everyone",
            "automaticLeaderAssignment": "SameEnterprise",
            "attendees": [ALICE],
            "leaders": [BILL, TOSH],
            "expirationTime": local.strftime("%Y-%m-%dT%H:%M:%S.5000000+02:00"),
        },
    )
    response = await post_xml(helpers, bill, body)
    assert response.status_code == 201, response.text
    root = xml_root(response)
    assert root.tag == q("resource") and root.attrib["rel"] == "myOnlineMeeting"
    assert response.headers["location"] == root.attrib["href"]
    props = xml_props(root)
    assert props.keys() >= PROPERTIES | {"rel", "etag"}
    assert response.headers["etag"] == f'"{props["etag"]}"'
    assert props["subject"] == "Quarterly & sales"
    assert (props["accessLevel"], props["automaticLeaderAssignment"]) == (
        "Everyone",
        "SameEnterprise",
    )
    assert (props["attendees"], props["leaders"]) == ([ALICE], [TOSH])
    assert props["onlineMeetingRel"] == "myOnlineMeetings"
    meeting_id = props["onlineMeetingId"]
    assert props["onlineMeetingUri"] == f"{BILL};gruu;opaque=app:conf:focus:id:{meeting_id}"
    expiration = props["expirationTime"]
    assert isinstance(expiration, str) and ISO_Z.match(expiration)
    assert parse_iso(expiration) == when
    assert len([n for n, v in props.items() if v == MARKER and GUID.match(n)]) == 1
    links = xml_links(root)
    assert "self" not in links  # the self link is the root's href
    assert links["onlineMeetingExtensions"].startswith(root.attrib["href"] + "/")
    as_json = await get_json(helpers, bill, response.headers["location"])
    assert as_json["expirationTime"] == aspnet(when)
    assert as_json["etag"] == props["etag"] and as_json["subject"] == "Quarterly & sales"


@pytest.mark.parametrize(
    ("root", "content_type"),
    [
        ("resource", "application/xml"),
        ("input", "application/xml; charset=utf-8"),
        ("resource", VND_XML),
        ("input", "text/xml"),
    ],
)
async def test_post_accepts_either_root_and_every_xml_type(
    helpers: Helpers, root: str, content_type: str
) -> None:
    bill = await helpers.session("bill")
    body = xml_input(root, {"subject": "Rooted", "lobbyBypassForPhoneUsers": "ENABLED"})
    response = await post_xml(helpers, bill, body, content_type)
    assert response.status_code == 201, response.text
    props = xml_props(xml_root(response))
    assert (props["subject"], props["lobbyBypassForPhoneUsers"]) == ("Rooted", "Enabled")


async def test_vnd_accept_is_echoed_and_empty_input_takes_defaults(
    helpers: Helpers, clock: FakeClock
) -> None:
    bill = await helpers.session("bill")
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    headers = {**bill.headers, "Accept": VND_XML, "Content-Type": VND_XML}
    response = await helpers.client.post(url, content=xml_input("input", {}), headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(VND_XML)
    props = xml_props(ET.fromstring(response.content))
    defaults = await get_json(
        helpers, bill, bill.link("onlineMeetings", "onlineMeetingDefaultValues")
    )
    assert props["accessLevel"] == defaults["accessLevel"]
    assert props["entryExitAnnouncement"] == defaults["entryExitAnnouncement"]
    assert parse_iso(str(props["expirationTime"])) == clock.now() + timedelta(hours=8)
    assert props["attendees"] == props["leaders"] == [] and props["subject"] == ""


@pytest.mark.parametrize(
    ("props", "name"),
    [
        ({"accessLevel": "Bogus"}, "accessLevel"),
        ({"entryExitAnnouncement": "Enabled"}, "entryExitAnnouncement"),
        ({"attendees": ["sip:x@fabrikam.com"]}, "attendees"),
        ({"leaders": [ALICE, "sip:y@fabrikam.com"]}, "leaders"),
        ({"expirationTime": "1990-01-01T00:00:00Z"}, "expirationTime"),
        ({"expirationTime": "soon"}, "expirationTime"),
        ({"subject": "z" * 251}, "subject"),
    ],
)
async def test_validation_errors_are_xml_reasons(
    helpers: Helpers, props: dict[str, str | list[str]], name: str
) -> None:
    bill = await helpers.session("bill")
    response = await post_xml(helpers, bill, xml_input("input", props))
    assert_xml_error(response, 400, "BadRequest", "ParameterValidationFailure", name)


@pytest.mark.parametrize(
    "body",
    [
        b"<input xmlns='" + NS.encode() + b"'><property name='subject'>x</input>",
        b"<foo xmlns='" + NS.encode() + b"'/>",
        b'<?xml version="1.0"?><!DOCTYPE input [<!ENTITY a "aaaa">]>'
        b"<input xmlns='" + NS.encode() + b"'><property name='subject'>&a;</property></input>",
        b"<input xmlns='" + NS.encode() + b"'><property name='subject'>head<b>x</b>tail"
        b"</property></input>",
        b"<input xmlns='" + NS.encode() + b"'><propertyList name='attendees'>"
        b"<item>sip:a@contoso.com<i/></item></propertyList></input>",
    ],
    ids=["malformed", "foreign-root", "entity", "mixed-content", "mixed-item"],
)
async def test_unreadable_xml_is_a_bad_request(helpers: Helpers, body: bytes) -> None:
    bill = await helpers.session("bill")
    response = await post_xml(helpers, bill, body)
    assert response.status_code == 400, response.text
    assert xml_root(response).findtext(q("code")) == "BadRequest"


async def test_list_repeats_resource_elements(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    made = [await created(helpers, bill, {"subject": s}) for s in ("one", "two")]
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    response = await helpers.client.get(url, headers={**bill.headers, **XML})
    assert response.status_code == 200
    root = xml_root(response)
    assert (root.attrib["rel"], root.attrib["href"]) == ("myOnlineMeetings", url)
    scheduled = [e for e in root if e.tag == q("resource") and e.get("rel") == "myOnlineMeeting"]
    assigned = [e for e in root if e.get("rel") == "myAssignedOnlineMeeting"]
    assert len(scheduled) == 2 and len(assigned) == 1
    assert {e.attrib["href"] for e in scheduled} == {self_href(m) for m in made}
    for element in scheduled + assigned:
        assert xml_props(element).keys() >= PROPERTIES
    assert xml_props(assigned[0])["onlineMeetingRel"] == "myAssignedOnlineMeeting"


async def test_get_xml_with_etag_and_if_none_match(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "cached", "attendees": [ALICE]})
    response = await helpers.client.get(self_href(meeting), headers={**bill.headers, **XML})
    assert response.status_code == 200
    props = xml_props(xml_root(response))
    assert props["etag"] == meeting["etag"]
    assert response.headers["etag"] == f'"{meeting["etag"]}"'
    assert props["attendees"] == [ALICE]
    headers = {**bill.headers, **XML, "If-None-Match": f'"{meeting["etag"]}"'}
    cached = await helpers.client.get(self_href(meeting), headers=headers)
    assert cached.status_code == 304 and cached.content == b""
    missing = await helpers.client.get(self_href(meeting) + "X", headers={**bill.headers, **XML})
    assert_xml_error(missing, 404, "NotFound", None)


@pytest.mark.parametrize("root_name", ["resource", "input"])
async def test_put_of_the_whole_xml_representation(
    helpers: Helpers, clock: FakeClock, root_name: str
) -> None:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "before", "attendees": [ALICE]})
    ext_url = meeting["_links"]["onlineMeetingExtensions"]["href"]
    ext = await helpers.client.post(ext_url, json={"id": "x1", "k": "v"}, headers=bill.headers)
    assert ext.status_code == 201
    got = await helpers.client.get(self_href(meeting), headers={**bill.headers, **XML})
    ET.register_namespace("", NS)
    root = ET.fromstring(got.content)
    assert root.find(q("resource")) is not None  # the embedded extension travels back too
    root.tag = q(root_name)
    later = clock.now() + timedelta(days=9)
    for prop in root.iter(q("property")):
        if prop.get("name") == "subject":
            prop.text = "after"
        elif prop.get("name") == "expirationTime":
            prop.text = later.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        elif prop.get("name") in ("onlineMeetingId", "conferenceId", "organizerUri"):
            prop.text = "CHANGED1"
    body = ET.tostring(root, encoding="utf-8")
    response = await put_xml(helpers, bill, self_href(meeting), body, f'"{meeting["etag"]}"')
    assert response.status_code == 200, response.text
    props = xml_props(xml_root(response))
    assert props["etag"] != meeting["etag"]
    assert response.headers["etag"] == f'"{props["etag"]}"'
    assert (props["subject"], props["attendees"]) == ("after", [ALICE])
    assert parse_iso(str(props["expirationTime"])) == later
    for name in ("onlineMeetingId", "conferenceId", "organizerUri"):
        assert props[name] == meeting[name], name


async def test_put_xml_empty_list_and_preconditions(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting = await created(
        helpers, bill, {"subject": "s", "attendees": [ALICE], "leaders": [TOSH]}
    )
    body = xml_input("input", {"subject": "cleared", "attendees": [], "leaders": [TOSH]})
    missing = await put_xml(helpers, bill, self_href(meeting), body, None)
    assert_xml_error(missing, 428, "PreconditionRequired", None)
    wrong = await put_xml(helpers, bill, self_href(meeting), body, '"nope"')
    assert_xml_error(wrong, 412, "PreconditionFailed", None)
    response = await put_xml(helpers, bill, self_href(meeting), body, meeting["etag"])
    assert response.status_code == 200, response.text
    props = xml_props(xml_root(response))
    assert (props["subject"], props["attendees"], props["leaders"]) == ("cleared", [], [TOSH])
    invalid = xml_input("input", {"accessLevel": "Open"})
    refused = await put_xml(helpers, bill, self_href(meeting), invalid, str(props["etag"]))
    assert_xml_error(refused, 400, "BadRequest", "ParameterValidationFailure", "accessLevel")
