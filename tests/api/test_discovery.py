"""Discovery and the user resource, as a client sees them over HTTP (spec §2.1.1-§2.1.5,
CLIENT-COMPAT "Discovery and URL layout" and "Sign-in")."""

from __future__ import annotations

import gzip
import re
from xml.etree import ElementTree as ET

import httpx
import pytest

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from tests.conftest import BASE, Helpers

ROOT = "/Autodiscover/AutodiscoverService.svc/root"
USER = ROOT + "/oauth/user"
TOKEN_URL = BASE + "/WebTicket/oauthtoken"
GRANTS = "urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"
CHALLENGE = f'MsRtcOAuth href="{TOKEN_URL}",grant_type="{GRANTS}"'
NS = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"
URL_RE = re.compile(r"https?://[^\s\",]+")


def links_of(response: httpx.Response) -> dict[str, str]:
    return {rel: link["href"] for rel, link in response.json()["_links"].items()}


def assert_challenge(response: httpx.Response, token_url: str = TOKEN_URL) -> None:
    """401 + text/html + the MsRtcOAuth challenge, with no absolute URL before the token URL."""
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    header = response.headers["www-authenticate"]
    expected = f'MsRtcOAuth href="{token_url}",grant_type="{GRANTS}"'
    assert expected in header
    assert header.endswith(expected)
    assert "'" not in header  # double quotes only
    first_url = next(
        m.group(0) for _, value in response.headers.raw for m in URL_RE.finditer(value.decode())
    )
    assert first_url == token_url


# -- root ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", ROOT])
async def test_root_links_are_absolute_on_request_origin(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-cache"
    links = links_of(response)
    assert set(links) == {"self", "user", "xframe"}
    assert links["self"] == f"{BASE}{ROOT}?originalDomain=contoso.com"
    assert links["user"] == f"{BASE}{USER}?originalDomain=contoso.com"
    assert links["xframe"] == f"{BASE}/Autodiscover/XFrame/XFrame.html"


async def test_root_with_original_domain_echoes_it(client: httpx.AsyncClient) -> None:
    response = await client.get(ROOT, params={"originalDomain": "Contoso.com"})
    assert response.status_code == 200
    links = links_of(response)
    assert links["self"] == f"{BASE}{ROOT}?originalDomain=contoso.com"
    assert links["user"] == f"{BASE}{USER}?originalDomain=contoso.com"
    assert "redirect" not in links


async def test_root_never_has_redirect_link(client: httpx.AsyncClient) -> None:
    for path in ("/", ROOT, ROOT + "?originalDomain=contoso.com"):
        response = await client.get(path)
        assert "redirect" not in response.json()["_links"]
        assert "redirect" not in response.text


async def test_root_follows_host_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Host": "lyncdiscover.contoso.com:8443"})
    links = links_of(response)
    for href in links.values():
        assert href.startswith("http://lyncdiscover.contoso.com:8443/")


async def test_root_honours_forwarded_proto_and_host(client: httpx.AsyncClient) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pool.contoso.com"}
    response = await client.get(ROOT, headers=headers)
    links = links_of(response)
    assert links["self"] == f"https://pool.contoso.com{ROOT}?originalDomain=contoso.com"
    assert links["user"] == f"https://pool.contoso.com{USER}?originalDomain=contoso.com"
    assert links["xframe"] == "https://pool.contoso.com/Autodiscover/XFrame/XFrame.html"


async def test_forwarded_headers_with_several_hops_use_the_first(
    client: httpx.AsyncClient,
) -> None:
    headers = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.contoso.com, b"}
    links = links_of(await client.get("/", headers=headers))
    assert links["xframe"] == "https://a.contoso.com/Autodiscover/XFrame/XFrame.html"


async def test_root_in_xml(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept": "application/xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert 'xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa"' in response.text
    assert f'<link rel="user" href="{BASE}{USER}?originalDomain=contoso.com"' in response.text


@pytest.mark.parametrize("accept", ["application/xml", "application/vnd.microsoft.com.ucwa+xml"])
async def test_discovery_xml_carries_rel_and_json_does_not(
    client: httpx.AsyncClient, helpers: Helpers, accept: str
) -> None:
    # XML as root_ref.md / user_ref.md show it; JSON as the sfb2015-signin capture (no "rel")
    auth = {"Authorization": f"Bearer {await helpers.token('bill')}"}
    for path, rel, headers in (("/", "root", {}), (ROOT, "root", {}), (USER, "user", auth)):
        xml = await client.get(path, headers={**headers, "Accept": accept})
        assert xml.status_code == 200
        element = ET.fromstring(xml.content)
        assert element.get("rel") == rel
        props = [(p.get("name"), p.text) for p in element.findall(f"{NS}property")]
        assert props == [("rel", rel)]
        json = await client.get(path, headers=headers)
        assert "rel" not in json.json()


# -- xframe -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/Autodiscover/XFrame/XFrame.html", "/xframe"])
async def test_xframe_is_html(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text
    assert "postMessage" in response.text


async def test_xframe_href_from_root_is_servable(client: httpx.AsyncClient) -> None:
    href = links_of(await client.get("/"))["xframe"]
    response = await client.get(href)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


# -- leading double slash -----------------------------------------------------------------


def _double_slash(path: str) -> httpx.URL:
    return httpx.URL(BASE).copy_with(raw_path=("/" + path).encode())


async def test_leading_double_slash_is_single(client: httpx.AsyncClient) -> None:
    response = await client.get(_double_slash(ROOT))
    assert response.status_code == 200
    assert links_of(response)["self"] == f"{BASE}{ROOT}?originalDomain=contoso.com"
    xframe = await client.get(_double_slash("/xframe"))
    assert xframe.status_code == 200


async def test_leading_double_slash_on_ucwa_path(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    bill = await helpers.session("bill")
    response = await client.get(_double_slash(bill.app_href), headers=bill.headers)
    assert response.status_code == 200
    assert response.json()["_links"]["self"]["href"] == bill.app_href


# -- user resource ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [USER, USER + "?originalDomain=contoso.com", ROOT + "/user"])
async def test_user_without_token_is_challenged(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert_challenge(response)
    assert "401" in response.text


async def test_user_head_without_token_is_challenged(client: httpx.AsyncClient) -> None:
    response = await client.head(USER)
    assert_challenge(response)
    assert response.content == b""


async def test_challenge_follows_forwarded_origin(client: httpx.AsyncClient) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pool.contoso.com"}
    response = await client.get(USER, headers=headers)
    assert_challenge(response, "https://pool.contoso.com/WebTicket/oauthtoken")


async def test_user_href_from_root_challenges(client: httpx.AsyncClient) -> None:
    user_href = links_of(await client.get("/"))["user"]
    response = await client.get(user_href)
    assert_challenge(response)
    assert CHALLENGE in response.headers["www-authenticate"]


async def test_user_with_token(client: httpx.AsyncClient, helpers: Helpers) -> None:
    token = await helpers.token("bill")
    response = await client.get(
        USER + "?originalDomain=contoso.com", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    links = links_of(response)
    assert links == {
        "self": f"{BASE}{ROOT}/user",
        "applications": f"{BASE}/ucwa/oauth/v1/applications",
        "xframe": f"{BASE}/Autodiscover/XFrame/XFrame.html",
    }


async def test_user_self_href_works_with_token(client: httpx.AsyncClient, helpers: Helpers) -> None:
    headers = {"Authorization": f"Bearer {await helpers.token('alice')}"}
    self_href = links_of(await client.get(USER, headers=headers))["self"]
    response = await client.get(self_href, headers=headers)
    assert response.status_code == 200
    assert links_of(response)["applications"] == f"{BASE}/ucwa/oauth/v1/applications"


async def test_user_head_with_token(client: httpx.AsyncClient, helpers: Helpers) -> None:
    headers = {"Authorization": f"Bearer {await helpers.token('bill')}"}
    response = await client.head(USER, headers=headers)
    assert response.status_code == 200
    assert response.content == b""


async def test_user_links_follow_forwarded_origin(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    headers = {
        "Authorization": f"Bearer {await helpers.token('bill')}",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "pool.contoso.com:4443",
    }
    links = links_of(await client.get(USER, headers=headers))
    assert links["applications"] == "https://pool.contoso.com:4443/ucwa/oauth/v1/applications"
    assert links["xframe"] == "https://pool.contoso.com:4443/Autodiscover/XFrame/XFrame.html"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer cwt=AAAAnotarealtoken",
        "Bearer garbage",
        "Bearer ",
        "Bearer",
        "Basic YmlsbDpiaWxsLXBhc3M=",
        "cwt=AAAAnotarealtoken",
        "Bearer cwt=" + "A" * 5000,
        b"Bearer cwt=\xff\xfe\xe9",
    ],
)
async def test_user_with_bad_token_is_challenged(
    client: httpx.AsyncClient, authorization: str | bytes
) -> None:
    response = await client.get(USER, headers={"Authorization": authorization})
    assert_challenge(response)


async def test_user_with_wrong_scheme_but_valid_token(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    token = await helpers.token("bill")
    response = await client.get(USER, headers={"Authorization": f"Basic {token}"})
    assert_challenge(response)
    lower = await client.get(USER, headers={"Authorization": f"bearer {token}"})
    assert lower.status_code == 200


async def test_user_with_expired_token(
    client: httpx.AsyncClient, helpers: Helpers, clock: FakeClock
) -> None:
    headers = {"Authorization": f"Bearer {await helpers.token('bill')}"}
    clock.advance(8 * 3600 - 5)
    assert (await client.get(USER, headers=headers)).status_code == 200
    clock.advance(10)
    assert_challenge(await client.get(USER, headers=headers))


async def test_user_with_revoked_token(
    client: httpx.AsyncClient, helpers: Helpers, built: Built
) -> None:
    token = await helpers.token("bill")
    other = await helpers.token("bill")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(USER, headers=headers)).status_code == 200
    assert await built.services.tokens.revoke(token)
    assert_challenge(await client.get(USER, headers=headers))
    # revoking one token leaves the user's other sign-ins alone
    response = await client.get(USER, headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 200


async def test_user_tolerates_browser_headers(client: httpx.AsyncClient, helpers: Helpers) -> None:
    headers = {
        "Authorization": f"Bearer {await helpers.token('tosh')}",
        "Origin": "https://app.example.com",
        "Referer": "https://app.example.com/page",
        "X-Ms-Origin": "https://app.example.com",
        "X-Ms-Namespace": "internal",
        "X-Requested-With": "XMLHttpRequest",
        "X-Ms-SDK-Instance": "sdk1",
        "Client-Request-Id": "abc",
        "X-MS-Correlation-Id": "def",
        "X-MS-RequiresMinResourceVersion": "2",
    }
    response = await client.get(USER, headers=headers)
    assert response.status_code == 200


# -- gzip on every GET, the HTML pages too (CLIENT-COMPAT "Content negotiation and encoding") --


async def raw_get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> tuple[httpx.Response, bytes]:
    async with client.stream("GET", path, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


def gunzipped(response: httpx.Response, raw: bytes) -> bytes:
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept, Accept-Encoding"
    assert int(response.headers["content-length"]) == len(raw)
    return gzip.decompress(raw)


@pytest.mark.parametrize("accept_encoding", ["gzip", "gzip, deflate", "deflate, gzip;q=0.5"])
async def test_challenge_is_gzipped_when_asked(
    client: httpx.AsyncClient, helpers: Helpers, accept_encoding: str
) -> None:
    bill = await helpers.session("bill")
    meeting = await client.post(
        bill.link("onlineMeetings", "myOnlineMeetings"), json={}, headers=bill.headers
    )
    # the user resource, a Starlette-routed resource and a direct route (the meeting GET)
    for path in (USER, bill.app_href, meeting.headers["location"]):
        response, raw = await raw_get(client, path, {"Accept-Encoding": accept_encoding})
        assert_challenge(response)
        assert b"401 - Unauthorized" in gunzipped(response, raw)
        head = await client.head(path, headers={"Accept-Encoding": accept_encoding})
        assert_challenge(head)
        assert head.content == b""
        for name in ("content-encoding", "vary", "content-length", "content-type"):
            assert head.headers.get(name) == response.headers.get(name), (path, name)


async def test_challenge_is_plain_when_gzip_is_not_asked(client: httpx.AsyncClient) -> None:
    for accept_encoding in ("identity", "gzip;q=0"):
        response, raw = await raw_get(client, USER, {"Accept-Encoding": accept_encoding})
        assert_challenge(response)
        assert "content-encoding" not in response.headers
        assert int(response.headers["content-length"]) == len(raw)
        assert b"401 - Unauthorized" in raw


@pytest.mark.parametrize("path", ["/Autodiscover/XFrame/XFrame.html", "/xframe"])
async def test_xframe_is_gzipped_when_asked(client: httpx.AsyncClient, path: str) -> None:
    response, raw = await raw_get(client, path, {"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert b"postMessage" in gunzipped(response, raw)
    plain, raw = await raw_get(client, path, {"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert b"postMessage" in raw


async def test_discovery_and_token_paths_match_in_any_letter_case(
    client: httpx.AsyncClient,
) -> None:
    """Real servers run on IIS, whose paths are case-insensitive, and clients hard-code them
    in lower case (the PyPI ``ucwa`` package; MS-OCDISCWS spells them so). Before: 404."""
    canonical = await client.get(ROOT + "?originalDomain=contoso.com")
    lower = await client.get(ROOT.lower() + "?originalDomain=contoso.com")
    assert lower.status_code == 200, lower.text
    assert lower.json() == canonical.json()  # links in the documented spelling
    challenged = await client.head(USER.upper())
    assert challenged.status_code == 401
    assert 'MsRtcOAuth href="' in challenged.headers["www-authenticate"]
    token = await client.post(
        "/webticket/OAUTHTOKEN",
        data={"grant_type": "password", "username": "bmauldin", "password": "bill-pass"},
    )
    assert token.status_code == 200, token.text
    assert (await client.get("/autodiscover/xframe/xframe.html")).status_code == 200
    assert (await client.get("/UCWA/oauth/v1/applications")).status_code == 404  # not these
