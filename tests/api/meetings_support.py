"""Helpers shared by the scheduling API tests: schedule a meeting the way a client does,
check error bodies, read UCWA XML, and run a second app on custom Settings."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from openucwa.bootstrap import Built, build
from openucwa.domain.clock import FakeClock
from openucwa.domain.users import User
from openucwa.settings import Settings
from openucwa.storage.sql import migrate
from tests.conftest import BASE, CHEAP_PASSWORDS, USERS, Helpers, Session

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MARKER = "please pass this in a PUT request"
ALICE, TOSH, BILL = USERS["alice"][0], USERS["tosh"][0], USERS["bill"][0]
NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
XML = {"Accept": "application/xml"}
PROPERTIES = frozenset(
    {
        "accessLevel", "attendees", "automaticLeaderAssignment", "conferenceId", "description",
        "entryExitAnnouncement", "expirationTime", "joinUrl", "leaders",
        "legacyOnlineMeetingUri", "lobbyBypassForPhoneUsers", "onlineMeetingId",
        "onlineMeetingRel", "onlineMeetingUri", "organizerUri", "phoneUserAdmission", "subject",
    }
)  # fmt: skip


def aspnet(when: datetime) -> str:
    return f"/Date({(when - EPOCH) // timedelta(milliseconds=1)})/"


def self_href(resource: dict[str, Any]) -> str:
    return str(resource["_links"]["self"]["href"])


def markers(resource: dict[str, Any]) -> list[str]:
    """Names of the GUID-named "please pass this in a PUT request" properties."""
    return [k for k, v in resource.items() if v == MARKER]


async def schedule(helpers: Helpers, who: Session, body: Any = None) -> httpx.Response:
    """POST myOnlineMeetings: no body (None), raw JSON bytes, or a JSON value."""
    url = who.link("onlineMeetings", "myOnlineMeetings")
    if isinstance(body, bytes):
        headers = {**who.headers, "Content-Type": "application/json"}
        return await helpers.client.post(url, content=body, headers=headers)
    if body is None:
        return await helpers.client.post(url, headers=who.headers)
    return await helpers.client.post(url, json=body, headers=who.headers)


async def created(helpers: Helpers, who: Session, body: Any = None) -> dict[str, Any]:
    response = await schedule(helpers, who, body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get_json(helpers: Helpers, who: Session, href: str) -> dict[str, Any]:
    response = await helpers.client.get(href, headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def put(
    helpers: Helpers, who: Session, href: str, body: Any, if_match: str | None
) -> httpx.Response:
    headers = dict(who.headers) if if_match is None else {**who.headers, "If-Match": if_match}
    return await helpers.client.put(href, json=body, headers=headers)


def assert_error(response: httpx.Response, status: int, code: str, subcode: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert body.get("subcode") == subcode, body


def assert_validation(response: httpx.Response, name: str) -> None:
    assert_error(response, 400, "BadRequest", "ParameterValidationFailure")
    assert name in response.json()["parameters"], response.json()


# -- XML ------------------------------------------------------------------------------------


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def xml_root(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("application/xml"), response.headers
    return ET.fromstring(response.content)


def xml_props(element: ET.Element) -> dict[str, str | list[str]]:
    """The element's own <property> and <propertyList> children (not nested resources')."""
    out: dict[str, str | list[str]] = {}
    for child in element:
        if child.tag == q("property"):
            out[child.attrib["name"]] = child.text or ""
        elif child.tag == q("propertyList"):
            out[child.attrib["name"]] = [item.text or "" for item in child if item.tag == q("item")]
    return out


def xml_links(element: ET.Element) -> dict[str, str]:
    return {c.attrib["rel"]: c.attrib["href"] for c in element if c.tag == q("link")}


def xml_input(root: str, props: dict[str, str | list[str]]) -> bytes:
    """A UCWA XML request body: <input> or <resource> with properties and property lists."""
    parts = [f'<?xml version="1.0" encoding="utf-8"?><{root} xmlns="{NS}">']
    for name, value in props.items():
        if isinstance(value, list):
            items = "".join(f"<item>{v}</item>" for v in value)
            parts.append(f'<propertyList name="{name}">{items}</propertyList>')
        else:
            parts.append(f'<property name="{name}">{value}</property>')
    parts.append(f"</{root}>")
    return "".join(parts).encode()


# -- a second application on custom Settings ---------------------------------------------------


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings, clock: FakeClock, add_users: bool = True
) -> AsyncIterator[tuple[Built, Helpers]]:
    """The composition root on ``settings``, as conftest's ``built`` + ``client`` fixtures."""
    migrate(settings.database)
    built = build(settings, clock=clock, passwords=CHEAP_PASSWORDS)
    await built.storage.start()
    try:
        if add_users:
            for uri, name, password in USERS.values():
                await built.storage.users.add(
                    User(uri=uri, name=name, password_hash=CHEAP_PASSWORDS.hash(password))
                )
        transport = httpx.ASGITransport(app=built.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield built, Helpers(client)
    finally:
        built.services.sign_in.close()
        await built.storage.close()
