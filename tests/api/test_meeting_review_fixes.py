"""Regressions found in review: problems reported together; the assigned meeting keeps its
long lifetime on PUT; values XML cannot carry still render as well-formed XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from openucwa.domain.clock import FakeClock
from tests.conftest import Helpers


async def test_type_and_rule_problems_are_reported_together(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    response = await helpers.client.post(
        bill.link("onlineMeetings", "myOnlineMeetings"),
        json={"subject": 42, "accessLevel": "Bogus", "attendees": ["sip:x@fabrikam.com"]},
        headers=bill.headers,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["subcode"] == "ParameterValidationFailure"
    assert set(body["parameters"]) == {"subject", "accessLevel", "attendees"}


async def test_put_of_the_assigned_meeting_keeps_its_long_lifetime(
    helpers: Helpers, clock: FakeClock
) -> None:
    bill = await helpers.session("bill")
    href = bill.link("onlineMeetings", "myAssignedOnlineMeeting")
    current = await helpers.client.get(href, headers=bill.headers)
    etag = current.json()["etag"]
    response = await helpers.client.put(
        href,
        json={"subject": "Standing meeting"},
        headers={**bill.headers, "If-Match": f'"{etag}"'},
    )
    assert response.status_code == 200, response.text
    ms = int(response.json()["expirationTime"][6:-2])
    expected = clock.now() + timedelta(days=3650)
    assert abs(ms / 1000 - expected.timestamp()) < 1


async def test_control_characters_stored_from_json_render_as_well_formed_xml(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    created = await helpers.client.post(
        bill.link("onlineMeetings", "myOnlineMeetings"),
        json={"subject": "a\u0001b\ufffec"},
        headers=bill.headers,
    )
    assert created.status_code == 201
    assert created.json()["subject"] == "a\u0001b\ufffec"  # JSON keeps the value as stored
    xml = await helpers.client.get(
        created.json()["_links"]["self"]["href"],
        headers={**bill.headers, "Accept": "application/xml"},
    )
    root = ET.fromstring(xml.content)
    ns = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"
    subject = next(p for p in root.iter(f"{ns}property") if p.get("name") == "subject")
    assert subject.text == "a\ufffdb\ufffdc"
