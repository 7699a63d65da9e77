"""Hostile and malformed input: always a UCWA error body in the negotiated format, never a 500,
and the server keeps serving (spec §2.0.1, §2.0.3, §2.0.4, §4.6; E17)."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import orjson
import pytest

from tests.conftest import Helpers, Session

NS_URI = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
NS = "{" + NS_URI + "}"
APPS = "/ucwa/oauth/v1/applications"
LIMIT = 256 * 1024
TARGETS = ["application", "meeting_post", "meeting_put", "make_me_available"]
XML = "application/xml"
JSON = "application/json"


@dataclass
class Target:
    method: str
    url: str
    headers: dict[str, str]
    valid: dict[str, Any]
    ok: int


@dataclass
class Ctx:
    client: httpx.AsyncClient
    bill: Session
    targets: dict[str, Target]


@pytest.fixture
async def ctx(client: httpx.AsyncClient, helpers: Helpers) -> AsyncIterator[Ctx]:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    meeting = (await client.post(mine, json={"subject": "Plan"}, headers=bill.headers)).json()
    if_match = {**bill.headers, "If-Match": f'"{meeting["etag"]}"'}
    app_body = {"UserAgent": "t", "EndpointId": "endpoint-1", "Culture": "en-US"}
    targets = {
        "application": Target("POST", APPS, bill.headers, app_body, 200),
        "meeting_post": Target("POST", mine, bill.headers, {"subject": "ok"}, 201),
        "meeting_put": Target(
            "PUT", meeting["_links"]["self"]["href"], if_match, {"subject": "ok"}, 200
        ),
        "make_me_available": Target(
            "POST", bill.link("me", "makeMeAvailable"), bill.headers, {}, 204
        ),
    }
    yield Ctx(client, bill, targets)


async def send(
    ctx: Ctx,
    name: str,
    content: Any,
    content_type: str | None = JSON,
    accept: str | None = None,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    target = ctx.targets[name]
    headers = {**target.headers, **(extra or {})}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    return await ctx.client.request(target.method, target.url, content=content, headers=headers)


def assert_error(
    response: httpx.Response, status: int, code: str, subcode: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(JSON)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if subcode is not None:
        assert body["subcode"] == subcode
    return body


def assert_xml_error(response: httpx.Response, status: int, code: str) -> ET.Element:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(XML)
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}reason"
    assert root.findtext(f"{NS}code") == code
    assert root.findtext(f"{NS}message")
    return root


async def assert_recovers(ctx: Ctx, name: str) -> None:
    """The server still answers normal requests, on this target and elsewhere."""
    app = await ctx.client.get(ctx.bill.app_href, headers=ctx.bill.headers)
    assert app.status_code == 200
    target = ctx.targets[name]
    response = await ctx.client.request(
        target.method, target.url, json=target.valid, headers=target.headers
    )
    assert response.status_code == target.ok, response.text


# -- JSON ---------------------------------------------------------------------------------

MALFORMED_JSON = [
    b'{"subject": ',
    b"{subject: 'x'}",
    b'{"a":1,}',
    b"[1, 2, 3]",
    b"[]",
    b'"just a string"',
    b"42",
    b"null",
    b"true",
    b'{"subject":"\xff\xfe bad utf-8"}',
    b"\xef\xbb\xbf\xff{}",
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'{"subject":"x"} trailing',
    b"\x00\x00\x00",
]


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("body", MALFORMED_JSON, ids=range(len(MALFORMED_JSON)))
async def test_malformed_json(ctx: Ctx, name: str, body: bytes) -> None:
    assert_error(await send(ctx, name, body), 400, "BadRequest")
    await assert_recovers(ctx, name)


@pytest.mark.parametrize("name", TARGETS)
async def test_malformed_json_in_xml(ctx: Ctx, name: str) -> None:
    response = await send(ctx, name, b"[1,2]", accept=XML)
    root = assert_xml_error(response, 400, "BadRequest")
    assert root.findtext(f"{NS}subcode") == "DeserializationFailure"
    await assert_recovers(ctx, name)


WRONG_TYPES: dict[str, list[tuple[dict[str, Any], str]]] = {
    "application": [
        ({"UserAgent": 5, "EndpointId": "e", "Culture": "en-US"}, "userAgent"),
        ({"UserAgent": "a", "EndpointId": ["e"], "Culture": "en-US"}, "endpointId"),
        ({"UserAgent": "a", "EndpointId": "e", "Culture": {"x": 1}}, "culture"),
        ({"UserAgent": "a", "EndpointId": "e", "Culture": None}, "culture"),
    ],
    "meeting_post": [
        ({"subject": 5}, "subject"),
        ({"attendees": "x"}, "attendees"),
        ({"attendees": [1, 2]}, "attendees"),
        ({"leaders": {"a": 1}}, "leaders"),
        ({"expirationTime": 12}, "expirationTime"),
        ({"expirationTime": "next tuesday"}, "expirationTime"),
        ({"description": True}, "description"),
    ],
    "make_me_available": [
        ({"signInAs": 5}, "signInAs"),
        ({"supportedModalities": "x"}, "supportedModalities"),
        ({"supportedMessageFormats": [1]}, "supportedMessageFormats"),
    ],
}
WRONG_TYPES["meeting_put"] = WRONG_TYPES["meeting_post"]
WRONG_TYPE_CASES = [(n, body, p) for n, cases in WRONG_TYPES.items() for body, p in cases]


@pytest.mark.parametrize(("name", "body", "parameter"), WRONG_TYPE_CASES)
async def test_wrong_types(ctx: Ctx, name: str, body: dict[str, Any], parameter: str) -> None:
    error = assert_error(
        await send(ctx, name, orjson.dumps(body)), 400, "BadRequest", "ParameterValidationFailure"
    )
    assert parameter in error["parameters"]
    await assert_recovers(ctx, name)


UNKNOWN_ENUMS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "application": [({"UserAgent": "a", "EndpointId": "e", "Culture": "c", "type": "Tv"}, "type")],
    "meeting_post": [
        ({"accessLevel": "Bogus"}, "accessLevel"),
        ({"automaticLeaderAssignment": "Sometimes"}, "automaticLeaderAssignment"),
        ({"entryExitAnnouncement": "Loud"}, "entryExitAnnouncement"),
        ({"lobbyBypassForPhoneUsers": "Maybe"}, "lobbyBypassForPhoneUsers"),
    ],
    "make_me_available": [
        ({"signInAs": "Invisible"}, "signInAs"),
        ({"supportedModalities": ["Telepathy"]}, "supportedModalities"),
        ({"audioPreference": "Smoke"}, "audioPreference"),
    ],
}
UNKNOWN_ENUMS["meeting_put"] = UNKNOWN_ENUMS["meeting_post"]
ENUM_CASES = [(n, body, p) for n, cases in UNKNOWN_ENUMS.items() for body, p in cases]


@pytest.mark.parametrize(("name", "body", "parameter"), ENUM_CASES)
async def test_unknown_enum_values(
    ctx: Ctx, name: str, body: dict[str, Any], parameter: str
) -> None:
    response = await send(ctx, name, orjson.dumps(body))
    error = assert_error(response, 400, "BadRequest", "ParameterValidationFailure")
    assert parameter in error["parameters"]
    xml = await send(ctx, name, orjson.dumps(body), accept=XML)
    root = assert_xml_error(xml, 400, "BadRequest")
    assert root.findtext(f"{NS}subcode") == "ParameterValidationFailure"
    params = root.find(f"{NS}parameters")
    assert params is not None
    assert parameter in {p.get("name") for p in params}
    await assert_recovers(ctx, name)


# -- size, media type ---------------------------------------------------------------------


def padded_json(size: int) -> bytes:
    return b'{"subject":"' + b"x" * size + b'"}'


@pytest.mark.parametrize("name", TARGETS)
async def test_oversized_with_content_length(ctx: Ctx, name: str) -> None:
    response = await send(ctx, name, padded_json(LIMIT + 1))
    assert int(response.request.headers["content-length"]) > LIMIT
    assert_error(response, 413, "EntityTooLarge")
    await assert_recovers(ctx, name)


@pytest.mark.parametrize("name", TARGETS)
async def test_oversized_without_content_length(ctx: Ctx, name: str) -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b'{"subject":"'
        for _ in range(LIMIT // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    response = await send(ctx, name, stream(), accept=XML)
    assert "content-length" not in response.request.headers
    assert_xml_error(response, 413, "EntityTooLarge")
    await assert_recovers(ctx, name)


@pytest.mark.parametrize("name", TARGETS)
async def test_body_just_under_limit_is_read(ctx: Ctx, name: str) -> None:
    response = await send(ctx, name, b" " * (LIMIT - 2) + b"[]")
    assert_error(response, 400, "BadRequest")  # read and parsed, not refused for its size


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize(
    "content_type", ["text/csv", "text/plain", "application/octet-stream", "image/png", "x"]
)
async def test_unsupported_media_type(ctx: Ctx, name: str, content_type: str) -> None:
    response = await send(ctx, name, b"subject,attendees\nx,y\n", content_type)
    assert_error(response, 415, "UnsupportedMediaType")
    await assert_recovers(ctx, name)


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("coding", ["gzip", "GZIP", "deflate", "br", "gzip, identity"])
async def test_coded_body_is_an_unsupported_media_type(ctx: Ctx, name: str, coding: str) -> None:
    target = ctx.targets[name]
    body = gzip.compress(orjson.dumps(target.valid))
    headers = {"Content-Encoding": coding}
    response = await send(ctx, name, body, extra=headers)
    error = assert_error(response, 415, "UnsupportedMediaType")
    assert f"Content-Encoding {coding} is not supported" in error["message"]
    response = await send(ctx, name, body, accept=XML, extra=headers)
    root = assert_xml_error(response, 415, "UnsupportedMediaType")
    assert f"Content-Encoding {coding} is not supported" in (root.findtext(f"{NS}message") or "")
    await assert_recovers(ctx, name)


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("coding", ["identity", " Identity "])
async def test_identity_coded_body_is_read(ctx: Ctx, name: str, coding: str) -> None:
    target = ctx.targets[name]
    body = orjson.dumps(target.valid)
    response = await send(ctx, name, body, extra={"Content-Encoding": coding})
    assert response.status_code == target.ok, response.text


@pytest.mark.parametrize("name", TARGETS)
async def test_body_without_content_type(ctx: Ctx, name: str) -> None:
    response = await send(ctx, name, b'{"subject":"x"}', None, accept=XML)
    assert_xml_error(response, 415, "UnsupportedMediaType")
    await assert_recovers(ctx, name)


@pytest.mark.parametrize("name", TARGETS)
async def test_json_body_labelled_xml(ctx: Ctx, name: str) -> None:
    response = await send(ctx, name, b'{"subject":"x"}', XML)
    assert_error(response, 400, "BadRequest", "DeserializationFailure")
    await assert_recovers(ctx, name)


# -- hostile XML --------------------------------------------------------------------------

_LAUGHS = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10)
)
HOSTILE_XML = {
    "billion_laughs": (
        f'<?xml version="1.0"?><!DOCTYPE input [{_LAUGHS}]>'
        f'<input xmlns="{NS_URI}"><property name="subject">&lol9;</property></input>'
    ).encode(),
    "external_entity": (
        '<?xml version="1.0"?><!DOCTYPE input [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f'<input xmlns="{NS_URI}"><property name="subject">&xxe;</property></input>'
    ).encode(),
    "parameter_entity": (
        '<?xml version="1.0"?><!DOCTYPE input [<!ENTITY % p SYSTEM "file:///etc/passwd">%p;]>'
        f'<input xmlns="{NS_URI}"/>'
    ).encode(),
    "external_dtd": (
        '<?xml version="1.0"?><!DOCTYPE input SYSTEM "http://127.0.0.1:9/evil.dtd">'
        f'<input xmlns="{NS_URI}"/>'
    ).encode(),
    "doctype": f'<!DOCTYPE input><input xmlns="{NS_URI}"/>'.encode(),
    "deep_nesting": (
        f'<input xmlns="{NS_URI}">' + "<a>" * 10_000 + "</a>" * 10_000 + "</input>"
    ).encode(),
    "unclosed": f'<input xmlns="{NS_URI}"><property name="subject">x'.encode(),
    "wrong_root": f'<foo xmlns="{NS_URI}"><property name="subject">x</property></foo>'.encode(),
    "bad_utf8": f'<input xmlns="{NS_URI}"><property name="subject">'.encode()
    + b"\xff\xfe"
    + b"</property></input>",
    "not_xml": b"hello world",
}


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("case", list(HOSTILE_XML))
async def test_hostile_xml(ctx: Ctx, name: str, case: str) -> None:
    body = HOSTILE_XML[case]
    response = await send(ctx, name, body, XML)
    assert_error(response, 400, "BadRequest", "DeserializationFailure")
    assert "root:" not in response.text
    response = await send(ctx, name, body, XML + "; charset=utf-8", accept=XML)
    root = assert_xml_error(response, 400, "BadRequest")
    assert root.findtext(f"{NS}subcode") == "DeserializationFailure"
    assert "lollol" not in response.text and "root:" not in response.text
    await assert_recovers(ctx, name)


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("encoding", ["x-bogus", "hex", "rot13", "base64", "zlib", "shift_jis"])
async def test_xml_declaring_an_unusable_encoding(
    ctx: Ctx, name: str, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?><input xmlns="{NS_URI}"/>'.encode()
    await assert_unreadable_both_ways(ctx, name, body, XML, caplog)


async def assert_unreadable_both_ways(
    ctx: Ctx, name: str, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    """400 DeserializationFailure in JSON and in XML, no traceback logged, the server goes on."""
    response = await send(ctx, name, body, content_type)
    assert_error(response, 400, "BadRequest", "DeserializationFailure")
    response = await send(ctx, name, body, content_type, accept=XML)
    root = assert_xml_error(response, 400, "BadRequest")
    assert root.findtext(f"{NS}subcode") == "DeserializationFailure"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    await assert_recovers(ctx, name)


LATIN1_XML = (
    f'<input xmlns="{NS_URI}"><property name="subject">Caf\xe9 cr\xe8me</property></input>'
).encode("latin-1")


@pytest.mark.parametrize("name", ["meeting_post", "meeting_put"])
async def test_xml_body_in_the_content_type_charset(ctx: Ctx, name: str) -> None:
    response = await send(ctx, name, LATIN1_XML, XML + "; charset=iso-8859-1")
    assert response.status_code == ctx.targets[name].ok, response.text
    assert response.json()["subject"] == "Caf\xe9 cr\xe8me"


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("charset", ["x-bogus", "hex", "shift_jis"])
async def test_xml_body_in_an_unusable_charset(
    ctx: Ctx, name: str, charset: str, caplog: pytest.LogCaptureFixture
) -> None:
    content_type = f"{XML}; charset={charset}"
    body = f'<input xmlns="{NS_URI}"><property name="subject">ascii</property></input>'.encode()
    await assert_unreadable_both_ways(ctx, name, body, content_type, caplog)


# -- unknown URLs and wrong methods -------------------------------------------------------


async def test_unknown_urls(ctx: Ctx) -> None:
    app = ctx.bill.app_href
    for url in (
        "/nope",
        "/ucwa/oauth/v1/nothing/at/all",
        f"{app}/unknown",
        f"{app}/me/unknown/deeper",
        f"{app}/onlineMeetings/myOnlineMeetings/NOPE1234",
        f"{app}/onlineMeetings/myOnlineMeetings/NOPE1234/extensions/x",
        f"{APPS}/999999999999",
        "/Autodiscover/AutodiscoverService.svc/root/nothing",
    ):
        response = await ctx.client.get(url, headers=ctx.bill.headers)
        assert_error(response, 404, "NotFound")
        xml = await ctx.client.get(url, headers={**ctx.bill.headers, "Accept": XML})
        assert_xml_error(xml, 404, "NotFound")
    assert (await ctx.client.get(app, headers=ctx.bill.headers)).status_code == 200


ALLOW = {
    "app": {"GET", "HEAD", "DELETE"},
    "applications": {"OPTIONS", "POST"},  # OPTIONS: the metadata (E18)
    "me": {"GET", "HEAD"},
    "makeMeAvailable": {"POST"},
    "meetings": {"GET", "HEAD", "POST"},
    "root": {"GET", "HEAD"},
    "user": {"GET", "HEAD"},
}


@pytest.mark.parametrize(
    ("method", "where"),
    [
        ("PATCH", "app"),
        ("PUT", "app"),
        ("POST", "app"),
        ("GET", "applications"),
        ("PATCH", "applications"),
        ("DELETE", "applications"),
        ("POST", "me"),
        ("DELETE", "me"),
        ("GET", "makeMeAvailable"),
        ("PUT", "makeMeAvailable"),
        ("PATCH", "meetings"),
        ("DELETE", "meetings"),
        ("POST", "root"),
        ("DELETE", "user"),
        ("TRACE", "app"),
    ],
)
async def test_wrong_method(ctx: Ctx, method: str, where: str) -> None:
    s = ctx.bill
    url = {
        "app": s.app_href,
        "applications": APPS,
        "me": s.link("me", "self"),
        "makeMeAvailable": s.link("me", "makeMeAvailable"),
        "meetings": s.link("onlineMeetings", "myOnlineMeetings"),
        "root": "/Autodiscover/AutodiscoverService.svc/root",
        "user": "/Autodiscover/AutodiscoverService.svc/root/oauth/user",
    }[where]
    response = await ctx.client.request(method, url, json={"x": 1}, headers=s.headers)
    assert_error(response, 405, "MethodNotAllowed")
    allowed = set(response.headers["allow"].replace(" ", "").split(","))
    assert allowed == ALLOW[where]
    xml = await ctx.client.request(method, url, headers={**s.headers, "Accept": XML})
    assert_xml_error(xml, 405, "MethodNotAllowed")
    assert (await ctx.client.get(s.app_href, headers=s.headers)).status_code == 200


async def test_bad_content_length(ctx: Ctx) -> None:
    target = ctx.targets["meeting_post"]
    request = ctx.client.build_request(
        "POST", target.url, content=b"{}", headers={**target.headers, "Content-Type": JSON}
    )
    request.headers["Content-Length"] = "abc"
    response = await ctx.client.send(request)
    assert_error(response, 400, "BadRequest")
    await assert_recovers(ctx, "meeting_post")
