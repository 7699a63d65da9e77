"""applications / application and its embedded dashboards over HTTP (spec §2.3,
CLIENT-COMPAT "Application" and "makeMeAvailable")."""

from __future__ import annotations

import gzip
import re
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import orjson
import pytest

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from tests.conftest import Helpers, Session

APPS = "/ucwa/oauth/v1/applications"
NS = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PUT_MARKER = "please pass this in a PUT request"


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def xml_input(**properties: str) -> bytes:
    props = "".join(f'<property name="{k}">{v}</property>' for k, v in properties.items())
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">{props}</input>'
    ).encode()


def assert_application(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    href = body["_links"]["self"]["href"]
    assert re.fullmatch(rf"{APPS}/[^/]+", href)
    assert response.headers["location"] == href
    assert body["id"] == href.rsplit("/", 1)[1]
    assert response.headers["etag"] == f'"{body["etag"]}"'
    assert body["_links"]["events"]["href"] == f"{href}/events?ack=1"
    assert body["_links"]["policies"]["href"] == f"{href}/policies"
    assert body["_links"]["batch"]["href"] == f"{href}/batch"
    assert set(body["_embedded"]) == {"me", "people", "onlineMeetings", "communication"}
    communication = body["_embedded"]["communication"]
    first_key = next(iter(communication))
    assert GUID.match(first_key), first_key
    assert communication[first_key] == PUT_MARKER
    for name in ("me", "people", "onlineMeetings", "communication"):
        embedded = body["_embedded"][name]
        assert embedded["rel"] == name
        assert embedded["_links"]["self"]["href"].startswith(href + "/")
    return body


async def create(
    client: httpx.AsyncClient, token: str, endpoint: str = "ep", **fields: str
) -> httpx.Response:
    body = {"UserAgent": "tests/1.0", "EndpointId": endpoint, "Culture": "en-US", **fields}
    return await client.post(APPS, json=body, headers=auth(token))


# -- creation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ("UserAgent", "EndpointId", "Culture"),
        ("userAgent", "endpointId", "culture"),
        ("USERAGENT", "ENDPOINTID", "CULTURE"),
        ("useragent", "EndpointID", "cUlTuRe"),
    ],
)
async def test_create_any_case_json(
    client: httpx.AsyncClient, helpers: Helpers, names: tuple[str, str, str]
) -> None:
    token = await helpers.token("bill")
    data = dict(zip(names, ("my-agent", "endpoint-a", "fr-FR"), strict=True))
    body = assert_application(await client.post(APPS, json=data, headers=auth(token)))
    assert body["userAgent"] == "my-agent"
    assert body["endpointId"] == "endpoint-a"
    assert body["culture"] == "fr-FR"
    assert body["type"] == "Browser"
    me = body["_embedded"]["me"]
    assert me["uri"] == "sip:bmauldin@contoso.com"
    assert me["name"] == "Bill Mauldin"
    assert me["_links"]["makeMeAvailable"]["href"] == body["_links"]["self"]["href"] + (
        "/me/makeMeAvailable"
    )


VND_XML = "application/vnd.microsoft.com.ucwa+xml"


@pytest.mark.parametrize(
    ("names", "content_type"),
    [
        (("userAgent", "endpointId", "culture"), "application/xml"),
        (("UserAgent", "EndpointId", "Culture"), VND_XML + ";charset=utf-8"),
    ],
)
async def test_create_xml(
    client: httpx.AsyncClient, helpers: Helpers, names: tuple[str, str, str], content_type: str
) -> None:
    token = await helpers.token("alice")
    values = ("xml-agent", "xml-ep", "en-GB")
    content = xml_input(**dict(zip(names, values, strict=True)))
    body = assert_application(
        await client.post(
            APPS, content=content, headers=auth(token, **{"Content-Type": content_type})
        )
    )
    assert (body["userAgent"], body["endpointId"], body["culture"]) == values
    # the same again, answered in XML: 200 (same endpoint), the vnd type echoed
    headers = auth(token, **{"Content-Type": content_type, "Accept": VND_XML})
    response = await client.post(APPS, content=content, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(VND_XML)
    root = ET.fromstring(response.content)
    assert (root.tag, root.get("rel")) == (f"{NS}resource", "application")
    assert root.get("href") == response.headers["location"] == body["_links"]["self"]["href"]
    rels = {child.get("rel") for child in root if child.tag == f"{NS}resource"}
    assert rels == {"me", "people", "onlineMeetings", "communication"}


async def test_same_endpoint_returns_same_application(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    token = await helpers.token("bill")
    first = assert_application(await create(client, token, "same"))
    again = assert_application(await create(client, token, "same"), status=200)
    assert again["_links"]["self"] == first["_links"]["self"]
    assert again["_links"]["events"] == first["_links"]["events"]
    # another sign-in (new token) of the same user and endpoint gets it too
    other_token = await helpers.token("bill")
    third = assert_application(await create(client, other_token, "same"), status=200)
    assert third["id"] == first["id"]


async def test_different_endpoint_is_another_application(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    token = await helpers.token("bill")
    one = assert_application(await create(client, token, "one"))
    two = assert_application(await create(client, token, "two"))
    assert one["id"] != two["id"]
    for body in (one, two):
        response = await client.get(body["_links"]["self"]["href"], headers=auth(token))
        assert response.status_code == 200
    # the same endpoint id under another user is another application too
    alice = assert_application(await create(client, await helpers.token("alice"), "one"))
    assert alice["id"] not in (one["id"], two["id"])
    assert alice["_embedded"]["me"]["uri"] == "sip:alice@contoso.com"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"EndpointId": "e", "Culture": "en-US"}, "userAgent"),
        ({"UserAgent": "a", "Culture": "en-US"}, "endpointId"),
        ({"UserAgent": "a", "EndpointId": "e"}, "culture"),
        ({"UserAgent": "a", "EndpointId": "e", "Culture": ""}, "culture"),
        ({"UserAgent": "a" * 101, "EndpointId": "e", "Culture": "en-US"}, "userAgent"),
        ({"UserAgent": "a", "EndpointId": "e" * 101, "Culture": "en-US"}, "endpointId"),
        ({"UserAgent": "a", "EndpointId": "e", "Culture": "c" * 101}, "culture"),
        (
            {"UserAgent": "a", "EndpointId": "e", "Culture": "en", "InstanceId": "i" * 101},
            "instanceId",
        ),
        ({"UserAgent": 5, "EndpointId": "e", "Culture": "en-US"}, "userAgent"),
        ({"UserAgent": "a", "EndpointId": "e", "Culture": "en-US", "type": "Phone"}, "type"),
    ],
)
async def test_create_validation(
    client: httpx.AsyncClient, helpers: Helpers, body: dict[str, Any], parameter: str
) -> None:
    token = await helpers.token("bill")
    response = await client.post(APPS, json=body, headers=auth(token))
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "BadRequest"
    assert error["subcode"] == "ParameterValidationFailure"
    assert parameter in error["parameters"]


async def test_create_with_100_chars_is_fine(client: httpx.AsyncClient, helpers: Helpers) -> None:
    token = await helpers.token("bill")
    response = await create(client, token, "e" * 100, UserAgent="a" * 100, Culture="c" * 100)
    assert_application(response)


async def test_create_without_token(client: httpx.AsyncClient) -> None:
    response = await client.post(APPS, json={"UserAgent": "a", "EndpointId": "e", "Culture": "c"})
    assert response.status_code == 401
    assert 'MsRtcOAuth href="' in response.headers["www-authenticate"]


# -- GET, conditional GET, negotiation, gzip ----------------------------------------------


async def test_get_application(client: httpx.AsyncClient, helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    for accept in (None, "application/json", "*/*", "text/html, */*;q=0.1"):
        headers = {**bill.headers, "Accept": accept} if accept else bill.headers
        response = await client.get(bill.app_href, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["id"] == bill.app["id"]
        assert body["_embedded"]["communication"] == bill.app["_embedded"]["communication"]
        assert response.headers["etag"] == f'"{body["etag"]}"'
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-ms-ucwaversion"]


@pytest.mark.parametrize(
    "accept", ["application/xml", "application/vnd.microsoft.com.ucwa+xml", "text/xml"]
)
async def test_get_application_xml(
    client: httpx.AsyncClient, helpers: Helpers, accept: str
) -> None:
    bill = await helpers.session("bill")
    response = await client.get(bill.app_href, headers={**bill.headers, "Accept": accept})
    assert response.status_code == 200
    expected = "application/xml" if accept == "text/xml" else accept
    assert response.headers["content-type"].split(";")[0] == expected
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}resource"
    assert root.get("href") == bill.app_href
    events = [c for c in root if c.tag == f"{NS}link" and c.get("rel") == "events"]
    assert events[0].get("href") == bill.app_href + "/events?ack=1"
    props = {c.get("name"): c.text for c in root if c.tag == f"{NS}property"}
    assert props["id"] == bill.app["id"]
    assert props["endpointId"] == "endpoint-1"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/xml;q=0.5, */*", "application/json"),
        ("*/*;q=1, application/xml;q=0.1", "application/json"),
        ("application/*, application/xml;q=0.2", "application/json"),
        ("application/xml;q=nan", "application/json"),
        ("application/xml;q=0.9, */*;q=0.8", "application/xml"),
    ],
)
async def test_wildcards_compete_as_json(
    client: httpx.AsyncClient, helpers: Helpers, accept: str, media: str
) -> None:
    bill = await helpers.session("bill")
    for href in (bill.app_href, bill.link("me", "self")):
        response = await client.get(href, headers={**bill.headers, "Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"] == f"{media}; charset=utf-8"


async def test_if_none_match(client: httpx.AsyncClient, helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    etag = bill.app["etag"]
    for value in (f'"{etag}"', etag, f'W/"{etag}"'):
        response = await client.get(bill.app_href, headers={**bill.headers, "If-None-Match": value})
        assert response.status_code == 304
        assert response.content == b""
    changed = await client.get(bill.app_href, headers={**bill.headers, "If-None-Match": '"1"'})
    assert changed.status_code == 200


async def test_if_none_match_sees_embedded_changes(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    """makeMeAvailable changes me and communication but not the application's ETag
    (PayloadFormat): a copy from before it must not be revalidated with a 304."""
    bill = await helpers.session("bill")
    revalidate = {**bill.headers, "If-None-Match": f'"{bill.app["etag"]}"'}
    assert (await client.get(bill.app_href, headers=revalidate)).status_code == 304
    assert (await make_me_available(client, bill, json={"signInAs": "Online"})).status_code == 204
    fresh = await client.get(bill.app_href, headers=revalidate)
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == f'"{bill.app["etag"]}"'
    assert "makeMeAvailable" not in fresh.json()["_embedded"]["me"]["_links"]


async def test_gzip_on_get_only(client: httpx.AsyncClient, helpers: Helpers) -> None:
    token = await helpers.token("bill")
    post = await client.post(
        APPS,
        json={"UserAgent": "a", "EndpointId": "gz", "Culture": "en-US"},
        headers=auth(token, **{"Accept-Encoding": "gzip"}),
    )
    assert post.status_code == 201
    assert "content-encoding" not in post.headers
    href = post.headers["location"]
    headers = auth(token, **{"Accept-Encoding": "gzip"})
    async with client.stream("GET", href, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("application/json")
    assert int(response.headers["content-length"]) == len(raw)
    body = orjson.loads(gzip.decompress(raw))
    assert body["id"] == post.json()["id"]
    plain = await client.get(href, headers=auth(token, **{"Accept-Encoding": "identity"}))
    assert "content-encoding" not in plain.headers
    assert plain.json() == body


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip;q=0, identity", False),
        ("identity, gzip;q=0", False),
        ("*, gzip;q=0", False),
        ("gzip;q=nan", False),
        ("deflate", False),
        ("*;q=0.5", True),
        ("br;q=1, GZIP;q=0.3", True),
        ("x-gzip", True),
    ],
)
async def test_gzip_follows_accept_encoding(
    client: httpx.AsyncClient, helpers: Helpers, accept_encoding: str, gzipped: bool
) -> None:
    bill = await helpers.session("bill")
    headers = {**bill.headers, "Accept-Encoding": accept_encoding}
    async with client.stream("GET", bill.app_href, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(raw)
    if gzipped:
        assert response.headers["content-encoding"] == "gzip"
        assert orjson.loads(gzip.decompress(raw))["id"] == bill.app["id"]
    else:
        assert "content-encoding" not in response.headers
        assert orjson.loads(raw)["id"] == bill.app["id"]
    # Either way: the form depends on Accept-Encoding (and the format on Accept).
    assert response.headers["vary"] == "Accept, Accept-Encoding"


async def head_and_get(
    client: httpx.AsyncClient, href: str, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response, bytes]:
    head = await client.head(href, headers=headers)
    async with client.stream("GET", href, headers=headers) as get:
        raw = b"".join([chunk async for chunk in get.aiter_raw()])
    return head, get, raw


@pytest.mark.parametrize("accept_encoding", ["gzip", "gzip, deflate", "identity"])
@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
async def test_head_sends_the_headers_get_would(
    client: httpx.AsyncClient, helpers: Helpers, accept_encoding: str, accept: str
) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    meeting = await client.post(mine, json={"subject": "Heads"}, headers=bill.headers)
    headers = {**bill.headers, "Accept-Encoding": accept_encoding, "Accept": accept}
    for href in (bill.app_href, bill.link("me", "self"), meeting.headers["location"], mine):
        head, get, raw = await head_and_get(client, href, headers)
        assert head.status_code == get.status_code == 200
        assert head.content == b""
        for name in ("content-encoding", "vary", "content-length", "content-type", "etag"):
            assert head.headers.get(name) == get.headers.get(name), (href, name)
        assert int(head.headers["content-length"]) == len(raw)
        assert ("content-encoding" in head.headers) is (accept_encoding != "identity")


# -- DELETE -------------------------------------------------------------------------------


async def test_delete_application(client: httpx.AsyncClient, helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    deleted = await client.delete(bill.app_href, headers=bill.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    for url in (bill.app_href, bill.link("me", "self"), bill.link("communication", "self")):
        response = await client.get(url, headers=bill.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "NotFound"
    again = await client.delete(bill.app_href, headers=bill.headers)
    assert again.status_code == 404
    # the same endpoint can register again and gets a new application
    fresh = assert_application(await create(client, bill.token, "endpoint-1"))
    assert fresh["id"] != bill.app["id"]


# -- dashboards ---------------------------------------------------------------------------


async def test_get_embedded_dashboards(client: httpx.AsyncClient, helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    for name in ("me", "people", "onlineMeetings", "communication"):
        response = await client.get(bill.link(name, "self"), headers=bill.headers)
        assert response.status_code == 200, name
        body = response.json()
        assert body["rel"] == name
        assert body["_links"] == bill.app["_embedded"][name]["_links"]
    communication = await client.get(bill.link("communication", "self"), headers=bill.headers)
    assert communication.headers["etag"] == f'"{communication.json()["etag"]}"'
    assert next(iter(communication.json())) == next(iter(bill.app["_embedded"]["communication"]))
    response = await client.get(bill.link("policies"), headers=bill.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["rel"] == "policies"
    assert body["htmlMessaging"] in ("Enabled", "Disabled")
    assert body["_links"]["self"]["href"] == bill.link("policies")


# -- makeMeAvailable ----------------------------------------------------------------------

MAKE_ME_AVAILABLE_BODIES: list[dict[str, Any]] = [
    {"SupportedModalities": ["Messaging"]},
    {"signInAs": "Online"},
    {"signInAs": "Busy", "supportedMessageFormats": ["Plain", "Html"], "supportedModalities": []},
    {
        "signInAs": "Online",
        "supportedMessageFormats": ["Plain", "Html"],
        "supportedModalities": ["Messaging"],
    },
    {
        "audioPreference": "PhoneAudio",
        "inactiveTimeout": 15,
        "phoneNumber": "+14255550100",
        "signInAs": "Away",
        "supportedMessageFormats": ["Plain"],
        "supportedModalities": ["Messaging", "PhoneAudio"],
        "voipFallbackToPhoneAudioTimeOut": 30,
    },
    {},
]


async def make_me_available(
    client: httpx.AsyncClient, s: Session, headers: dict[str, str] | None = None, **kw: Any
) -> httpx.Response:
    headers = {**s.headers, **(headers or {})}
    return await client.post(s.link("me", "makeMeAvailable"), headers=headers, **kw)


async def assert_available(client: httpx.AsyncClient, s: Session) -> None:
    me = (await client.get(s.link("me", "self"), headers=s.headers)).json()
    assert "makeMeAvailable" not in me["_links"]
    assert "self" in me["_links"]
    app = (await client.get(s.app_href, headers=s.headers)).json()
    assert "makeMeAvailable" not in app["_embedded"]["me"]["_links"]
    # a re-POST of the same endpoint (clients do that) does not bring the link back
    again = await create(client, s.token, "endpoint-1")
    assert again.status_code == 200
    assert "makeMeAvailable" not in again.json()["_embedded"]["me"]["_links"]


@pytest.mark.parametrize("body", MAKE_ME_AVAILABLE_BODIES)
async def test_make_me_available(
    client: httpx.AsyncClient, helpers: Helpers, body: dict[str, Any]
) -> None:
    bill = await helpers.session("bill")
    response = await make_me_available(client, bill, json=body)
    assert response.status_code == 204, response.text
    assert response.content == b""
    await assert_available(client, bill)


MMA_XML = (
    b'<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">'
    b'<property name="signInAs">Online</property>'
    b'<propertyList name="supportedModalities"><item>Messaging</item></propertyList></input>'
)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"", None), (b"", ""), (b"", "text/plain"), (MMA_XML, "application/xml")],
)
async def test_make_me_available_raw_bodies(
    client: httpx.AsyncClient, helpers: Helpers, content: bytes, content_type: str | None
) -> None:
    bill = await helpers.session("bill")
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await make_me_available(client, bill, content=content, headers=headers)
    assert ("content-type" in response.request.headers) == (content_type is not None)
    assert response.status_code == 204, response.text
    await assert_available(client, bill)


async def test_make_me_available_updates_communication(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    bill = await helpers.session("bill")
    before = await client.get(bill.link("communication", "self"), headers=bill.headers)
    await make_me_available(client, bill, json={"supportedModalities": ["messaging"]})
    after = await client.get(bill.link("communication", "self"), headers=bill.headers)
    assert after.json()["supportedModalities"] == ["Messaging"]
    assert after.headers["etag"] != before.headers["etag"]


@pytest.mark.parametrize(
    ("body", "status", "parameter"),
    [
        ({"supportedModalities": ["Video"]}, 403, None),
        ({"supportedModalities": ["Messaging", "Audio"]}, 403, None),
        ({"SupportedModalities": ["ApplicationSharing"]}, 403, None),
        ({"signInAs": "Sleeping"}, 400, "signInAs"),
        ({"supportedModalities": ["Telepathy"]}, 400, "supportedModalities"),
        ({"supportedMessageFormats": ["Rtf"]}, 400, "supportedMessageFormats"),
        ({"audioPreference": "Smoke"}, 400, "audioPreference"),
    ],
)
async def test_make_me_available_refused(
    client: httpx.AsyncClient,
    helpers: Helpers,
    body: dict[str, Any],
    status: int,
    parameter: str | None,
) -> None:
    bill = await helpers.session("bill")
    response = await make_me_available(client, bill, json=body)
    assert response.status_code == status
    error = response.json()
    if parameter is None:
        assert error["code"] == "Forbidden"
    else:
        assert (error["code"], error["subcode"]) == ("BadRequest", "ParameterValidationFailure")
        assert parameter in error["parameters"]
    me = (await client.get(bill.link("me", "self"), headers=bill.headers)).json()
    assert "makeMeAvailable" in me["_links"]  # nothing changed


# -- idle expiry --------------------------------------------------------------------------


async def test_idle_expiry_then_purge(
    client: httpx.AsyncClient, helpers: Helpers, clock: FakeClock, built: Built
) -> None:
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    clock.advance(590)
    assert (await client.get(alice.app_href, headers=alice.headers)).status_code == 200
    clock.advance(20)  # bill idle for 610 s, alice for 20 s
    for url in (bill.app_href, bill.link("me", "self"), bill.link("policies")):
        response = await client.get(url, headers=bill.headers)
        assert response.status_code == 410, url
        error = response.json()
        assert (error["code"], error["subcode"]) == ("Gone", "InactiveApplicationExpired")
    assert (await client.get(alice.app_href, headers=alice.headers)).status_code == 200
    clock.advance(3601)
    await built.services.applications.expire_idle()
    response = await client.get(bill.app_href, headers=bill.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
    # alice was idle too (3601 s) and is gone as well; a fresh POST gives a new application
    fresh = assert_application(await create(client, bill.token, "endpoint-1"))
    assert fresh["id"] != bill.app["id"]


async def test_me_links_report_my_activity_once_available(
    client: httpx.AsyncClient, helpers: Helpers, clock: FakeClock
) -> None:
    """application_ref: ``me`` links ``reportMyActivity`` (``{application}/reportMyActivity``);
    Lync 2013's traces post to ``{application}/me/reportMyActivity``, which works too. Each
    keeps an available application alive past its idle timeout."""
    bill = await helpers.session("bill")
    before = (await client.get(bill.link("me", "self"), headers=bill.headers)).json()
    assert "reportMyActivity" not in before["_links"]  # as in the capture's 7-response
    assert (await make_me_available(client, bill, json={})).status_code == 204
    me = (await client.get(bill.link("me", "self"), headers=bill.headers)).json()
    report = me["_links"]["reportMyActivity"]["href"]
    assert report == bill.app_href + "/reportMyActivity"
    app = (await client.get(bill.app_href, headers=bill.headers)).json()
    assert app["_embedded"]["me"]["_links"]["reportMyActivity"]["href"] == report
    for href in (report, bill.app_href + "/me/reportMyActivity"):
        for _ in range(3):
            clock.advance(3000)  # under the available idle timeout (3600 s) each time
            answer = await client.post(href, headers=bill.headers)
            assert answer.status_code == 204, answer.text
    assert (await client.get(bill.app_href, headers=bill.headers)).status_code == 200


async def test_requests_keep_application_alive(
    client: httpx.AsyncClient, helpers: Helpers, clock: FakeClock
) -> None:
    bill = await helpers.session("bill")
    for _ in range(5):
        clock.advance(300)
        assert (await client.get(bill.app_href, headers=bill.headers)).status_code == 200


async def test_expired_application_revived_by_same_endpoint(
    client: httpx.AsyncClient, helpers: Helpers, clock: FakeClock
) -> None:
    bill = await helpers.session("bill")
    clock.advance(601)
    assert (await client.get(bill.app_href, headers=bill.headers)).status_code == 410
    response = await create(client, bill.token, "endpoint-1")
    fresh = assert_application(response, status=201)
    assert (await client.get(fresh["_links"]["self"]["href"], headers=bill.headers)).is_success


async def test_options_on_applications_describes_the_post(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    """applications_ref documents OPTIONS with a metadata body; the spec's E18 implements it
    there only (405 elsewhere)."""
    token = await helpers.token("bill")
    auth = {"Authorization": f"Bearer {token}"}
    answer = await client.options("/ucwa/oauth/v1/applications", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    (post,) = answer.json()["metadata"]
    assert post["httpMethod"] == "POST"
    names = {p["name"]: p["supportedValues"] for p in post["parameters"]}
    assert names == {
        "culture": [],
        "endpointId": [],
        "instanceId": [],
        "type": ["Browser"],
        "userAgent": [],
    }
    xml = await client.options(
        "/ucwa/oauth/v1/applications", headers={**auth, "Accept": "application/xml"}
    )
    root = ET.fromstring(xml.content)
    assert root.tag == "optionsMetadata"
    assert root.findtext("metadata/httpMethodMetadata/httpMethod") == "POST"
    values = root.findall("metadata/httpMethodMetadata/parameters/parameter")
    assert [p.findtext("name") for p in values][3] == "type"
    assert [v.text for v in values[3].findall("supportedValues/value")] == ["Browser"]
    unsigned = await client.options("/ucwa/oauth/v1/applications")
    assert unsigned.status_code == 401
    bill = await helpers.session("bill")
    elsewhere = await client.options(bill.app_href, headers=bill.headers)
    assert elsewhere.status_code == 405


async def test_the_events_link_follows_the_channel(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    """A new application's events link is ``ack=1`` (the capture); a re-POST of the same
    endpoint (clients do that after makeMeAvailable) links where the channel stands, so a
    client starting over from it gets its next batch, not a resync."""
    bill = await helpers.session("bill")
    assert bill.link("events").endswith("/events?ack=1")
    assert (await make_me_available(client, bill, json={"signInAs": "Online"})).status_code == 204
    first = await client.get(bill.link("events") + "&timeout=1", headers=bill.headers)
    assert first.status_code == 200 and first.json()["sender"], first.text
    next_href = first.json()["_links"]["next"]["href"]
    again = await create(client, bill.token, "endpoint-1")
    assert again.status_code == 200
    assert again.json()["_links"]["events"]["href"] == next_href.split("?")[0] + "?ack=1"
    # ack=1 is still unacknowledged (a client acknowledges it by asking for ack=2)
    second = await client.get(next_href + "&timeout=1", headers=bill.headers)
    assert second.status_code == 200, second.text
    assert second.json()["_links"]["self"]["href"].endswith("ack=2"), second.text
    again = await create(client, bill.token, "endpoint-1")
    href = again.json()["_links"]["events"]["href"]
    assert href == next_href, href
    fetched = await client.get(bill.app_href, headers=bill.headers)
    assert fetched.json()["_links"]["events"]["href"] == href
    answer = await client.get(href + "&timeout=1", headers=bill.headers)
    assert answer.status_code == 200 and "resync" not in answer.json()["_links"]


async def test_the_presence_note_and_location_that_makemeavailable_announces(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    """makeMeAvailable's events announce me's presence, note and location (ReceiveAnIM);
    each answers GET (a client shows its own status from them), none can be set."""
    bill = await helpers.session("bill")
    me = bill.link("me", "self")
    for leaf in ("presence", "note", "location"):
        early = await client.get(f"{me}/{leaf}", headers=bill.headers)
        assert early.status_code == 404 and early.json()["code"] == "NotFound"
    done = await make_me_available(client, bill, json={"signInAs": "Busy"})
    assert done.status_code == 204
    batch = (await client.get(bill.link("events") + "&timeout=1", headers=bill.headers)).json()
    announced = {
        e["link"]["rel"]: e["link"]["href"]
        for s in batch["sender"]
        if s["rel"] == "me"
        for e in s["events"]
        if e["type"] == "added"
    }
    links = (await client.get(me, headers=bill.headers)).json()["_links"]
    assert announced == {rel: links[rel]["href"] for rel in ("presence", "note", "location")}
    presence = await client.get(announced["presence"], headers=bill.headers)
    assert presence.status_code == 200
    assert presence.json()["availability"] == "Busy" and presence.json()["rel"] == "presence"
    assert presence.json()["_links"]["self"]["href"] == announced["presence"]
    note = (await client.get(announced["note"], headers=bill.headers)).json()
    assert note["message"] == "" and note["rel"] == "note"
    xml = await client.get(
        announced["location"], headers={**bill.headers, "Accept": "application/xml"}
    )
    assert xml.status_code == 200 and b'rel="location"' in xml.content
    refused = await client.post(
        announced["presence"], json={"availability": "Away"}, headers=bill.headers
    )
    assert refused.status_code == 405 and refused.json()["code"] == "MethodNotAllowed"
    alice = await helpers.session("alice")
    assert (await client.get(announced["presence"], headers=alice.headers)).status_code == 404


# The properties policies_ref.md documents (its table; the batch_ref sample shows a few).
DOCUMENTED_POLICIES = {
    "allowDeviceContactsSync", "audioOnlyOnWifi", "callLogArchiving",
    "customerExperienceImprovementProgram", "emergencyDialMask", "emergencyDialString",
    "emergencyNumbers", "emergencyServiceDisclaimer", "emoticons", "encryptAppData",
    "clientExchangeConnectivity", "exchangeUnifiedMessaging", "helpEnvironment", "htmlMessaging",
    "locationRefreshInterval", "locationRequired", "logging", "loggingLevel", "messageArchiving",
    "messagingUrls", "multiViewJoin", "onlineFeedbackUrl", "photos", "saveCallLogs",
    "saveCredentials", "saveMessagingHistory", "sendFeedbackUrl", "sharingOnlyOnWifi",
    "softwareQualityMetrics", "telephonyMode", "useLocationForE911Only", "videoOnlyOnWifi",
    "voicemailUri",
}  # fmt: skip


async def test_policies_carry_only_documented_properties(helpers: Helpers) -> None:
    """Before, policies also sent ``audioVideoDisabled`` (a boolean no page has),
    ``exchangeUnifiedContactStore`` and ``conversationHistory`` (a communication property)."""
    bill = await helpers.session("bill")
    href = bill.link("policies")
    body = (await helpers.client.get(href, headers=bill.headers)).json()
    properties = {k: v for k, v in body.items() if k not in ("_links", "rel")}
    assert set(properties) <= DOCUMENTED_POLICIES, set(properties) - DOCUMENTED_POLICIES
    assert properties["htmlMessaging"] == "Enabled"  # sendMessage takes HTML
    assert all(v in ("Enabled", "Disabled") for v in properties.values()), properties
    xml = await helpers.client.get(href, headers={**bill.headers, "Accept": "application/xml"})
    root = ET.fromstring(xml.content)
    names = {p.get("name") for p in root if p.tag.endswith("property")}
    assert names == {*properties, "rel"}  # the ref samples carry rel as a property too
