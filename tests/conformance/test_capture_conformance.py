"""Our sign-in exchange held against a 2015 Skype for Business server's, step by step.

The samples (``samples/``, provenance in ``samples/README.md``) are normalised copies of the
capture ``sfb2015-signin``: volatile names - origin, SIP domain, user, application id, assigned
meeting id, GUID-named properties - are placeholders. ``normalise`` puts the same placeholders
into our responses, so what is left must match: headers the sample keeps, link rels, property
names (ours may add the ``ALLOWED_EXTRAS``) and every href. When the shared captures sit beside
the repository, the samples are also checked against them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import BASE, USERS

SAMPLES = Path(__file__).parent / "samples"
CAPTURES = Path(__file__).parents[3] / "shared" / "captures" / "sfb2015-signin"
SAMPLE_SOURCES = {  # sample file -> capture exchange number
    "discovery/get.json": 3,
    "user/get-unauthenticated.json": 4,
    "token/post-password.json": 5,
    "user/get.json": 6,
    "application/post.json": 7,
    "application/delete.json": 8,
}
KEPT_HEADERS = ("cache-control", "pragma", "expires", "content-type", "www-authenticate")
ALLOWED_EXTRAS = frozenset({"id", "endpointId", "type", "etag", "instanceId"})
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CHALLENGE = re.compile(r'MsRtcOAuth\s+href="([^"]+)"')
UNSET = "\0"  # a name not known (yet): replaces nothing


@dataclass(frozen=True)
class Names:
    """The volatile names of one deployment and the placeholders that replace them."""

    origin: str
    domain: str
    user: str
    app_id: str = UNSET
    assigned: str = UNSET

    def text(self, value: str) -> str:
        value = value.replace(self.origin, "{origin}").replace(self.user, "{user}")
        value = value.replace(self.domain, "{domain}")
        value = value.replace(f"/applications/{self.app_id}", "/applications/{app}")
        return value.replace(f"/myOnlineMeetings/{self.assigned}", "/myOnlineMeetings/{assigned}")


def normalise(value: Any, names: Names) -> Any:
    """Placeholders for volatile names in every string and key; GUID-named keys become
    ``{guid}``. Key order is kept (communication's first key matters)."""
    if isinstance(value, dict):
        return {
            ("{guid}" if GUID.fullmatch(k) else names.text(k)): normalise(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalise(v, names) for v in value]
    return names.text(value) if isinstance(value, str) else value


CAPTURE_NAMES = Names(
    origin="https://lync.domain.com",
    domain="domain.com",
    user="test.user1@domain.com",
    app_id="103753940963",
    assigned="JE49B6SO",
)
OUR_USER = USERS["bill"]
OUR_NAMES = Names(origin=BASE, domain="contoso.com", user=OUR_USER[0].removeprefix("sip:"))


# -- samples --------------------------------------------------------------------------------


def _split_http(text: str) -> tuple[str, dict[str, str], str]:
    head, _, body = text.partition("\n\n")
    first, *lines = head.splitlines()
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return first, headers, body.strip()


def sample_from_capture(number: int) -> dict[str, Any]:
    """One exchange of the capture as a normalised sample (what ``samples/`` holds)."""
    _, _, proxied = _split_http((CAPTURES / f"{number}-request.txt").read_text())
    request = json.loads(proxied)  # the capture went through a proxy: the real request is data
    status_line, headers, body = _split_http((CAPTURES / f"{number}-response.txt").read_text())
    is_json = headers.get("content-type", "").startswith("application/json")
    url = urlsplit(request["url"])
    out_request: dict[str, Any] = {
        "method": request["method"].upper(),
        "path": (url.path or "/") + (f"?{url.query}" if url.query else ""),
    }
    if "content-type" in request.get("headers", {}):
        out_request["content-type"] = request["headers"]["content-type"]
    if "data" in request:
        out_request["body"] = request["data"]
    return {
        "source": f"sfb2015-signin/{number}-response.txt",
        "request": normalise(out_request, CAPTURE_NAMES),
        "status": int(status_line.split()[1]),
        "headers": normalise({k: headers[k] for k in KEPT_HEADERS if k in headers}, CAPTURE_NAMES),
        "body": normalise(json.loads(body), CAPTURE_NAMES) if is_json and body else None,
    }


def sample(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return found


@pytest.mark.parametrize("name", sorted(SAMPLE_SOURCES))
def test_sample_is_the_normalised_capture(name: str) -> None:
    if not CAPTURES.is_dir():
        pytest.skip(f"captures not beside the repository ({CAPTURES})")
    assert sample(name) == sample_from_capture(SAMPLE_SOURCES[name])


def test_every_sample_has_its_provenance() -> None:
    readme = (SAMPLES / "README.md").read_text()
    on_disk = {str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.json")}
    assert on_disk == set(SAMPLE_SOURCES)
    for name, number in SAMPLE_SOURCES.items():
        assert name in readme and f"{number}-response.txt" in readme
        assert sample(name)["source"] == f"sfb2015-signin/{number}-response.txt"
    assert "MIT" in readme


# -- our side -------------------------------------------------------------------------------


def media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def assert_headers(response: httpx.Response, expected: dict[str, str], names: Names) -> None:
    for header, value in expected.items():
        assert header in response.headers, f"missing {header}: {value}"
        ours = names.text(response.headers[header])
        if header == "content-type":  # a charset parameter is ours to add
            assert media_type(ours) == media_type(value)
        else:
            assert ours == value, header


async def discover(client: httpx.AsyncClient) -> str:
    response = await client.get(sample("discovery/get.json")["request"]["path"])
    assert response.status_code == 200, response.text
    return str(response.json()["_links"]["user"]["href"])


async def token_href(client: httpx.AsyncClient) -> str:
    challenge = await client.get(await discover(client))
    found = CHALLENGE.search(challenge.headers.get("www-authenticate", ""))
    assert found, challenge.headers
    return found.group(1)


async def post_token(client: httpx.AsyncClient) -> httpx.Response:
    request = sample("token/post-password.json")["request"]
    form = dict(parse_qsl(request["body"]))
    form.update(username=OUR_NAMES.user, password=OUR_USER[2])
    return await client.post(
        await token_href(client),
        content=urlencode(form),
        headers={"Content-Type": request["content-type"]},  # the odd charset='utf-8'
    )


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    response = await post_token(client)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def create_application(client: httpx.AsyncClient) -> tuple[httpx.Response, dict[str, str]]:
    auth = await bearer(client)
    user = await client.get(await discover(client), headers=auth)
    body = sample("application/post.json")["request"]["body"]
    response = await client.post(
        user.json()["_links"]["applications"]["href"], json=body, headers=auth
    )
    return response, auth


def last_segment(href: str) -> str:
    return href.rstrip("/").rsplit("/", 1)[-1]


async def test_discovery(client: httpx.AsyncClient) -> None:
    expected = sample("discovery/get.json")
    response = await client.get(expected["request"]["path"])
    assert response.status_code == expected["status"]
    assert_headers(response, expected["headers"], OUR_NAMES)
    assert normalise(response.json(), OUR_NAMES) == expected["body"]


async def test_unauthenticated_user_challenge(client: httpx.AsyncClient) -> None:
    expected = sample("user/get-unauthenticated.json")
    response = await client.get(await discover(client))
    assert response.status_code == expected["status"] == 401
    assert media_type(response.headers["content-type"]) == "text/html"
    assert_headers(response, expected["headers"], OUR_NAMES)  # WWW-Authenticate, text and all


async def test_token(client: httpx.AsyncClient) -> None:
    expected = sample("token/post-password.json")
    response = await post_token(client)
    assert response.status_code == expected["status"]
    assert_headers(response, expected["headers"], OUR_NAMES)
    body, wanted = response.json(), expected["body"]
    assert set(body) == set(wanted)
    assert body["access_token"].startswith("cwt=")
    assert body["token_type"] == wanted["token_type"]
    assert body["ms_rtc_identityscope"] == wanted["ms_rtc_identityscope"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0


async def test_user(client: httpx.AsyncClient) -> None:
    expected = sample("user/get.json")
    auth = await bearer(client)
    response = await client.get(await discover(client), headers=auth)
    assert response.status_code == expected["status"]
    assert_headers(response, expected["headers"], OUR_NAMES)
    assert normalise(response.json(), OUR_NAMES) == expected["body"]


def differences(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> list[str]:
    """Property names, link rels and hrefs, embedded rels: what a client could notice."""
    found: list[str] = []
    names = {k for k in ours if not k.startswith("_")}
    wanted = {k for k in theirs if not k.startswith("_")}
    if wanted - names:
        found.append(f"{where}: missing properties {sorted(wanted - names)}")
    if names - wanted - ALLOWED_EXTRAS:
        found.append(f"{where}: unexpected properties {sorted(names - wanted - ALLOWED_EXTRAS)}")
    links = {rel: link["href"] for rel, link in ours.get("_links", {}).items()}
    wanted_links = {rel: link["href"] for rel, link in theirs.get("_links", {}).items()}
    if links != wanted_links:
        found.append(f"{where}: links {links} != {wanted_links}")
    embedded, wanted_embedded = ours.get("_embedded", {}), theirs.get("_embedded", {})
    if set(embedded) != set(wanted_embedded):
        found.append(f"{where}: embedded {sorted(embedded)} != {sorted(wanted_embedded)}")
    for rel in set(embedded) & set(wanted_embedded):
        found += differences(embedded[rel], wanted_embedded[rel], f"{where}._embedded.{rel}")
    return found


async def test_application_creation(client: httpx.AsyncClient) -> None:
    expected = sample("application/post.json")
    response, _ = await create_application(client)
    assert response.status_code == expected["status"] == 201, response.text
    assert_headers(response, expected["headers"], OUR_NAMES)
    raw = response.json()
    meetings = raw["_embedded"]["onlineMeetings"]["_links"]
    names = Names(
        origin=OUR_NAMES.origin,
        domain=OUR_NAMES.domain,
        user=OUR_NAMES.user,
        app_id=last_segment(raw["_links"]["self"]["href"]),
        assigned=last_segment(meetings["myAssignedOnlineMeeting"]["href"]),
    )
    ours, theirs = normalise(raw, names), expected["body"]
    assert differences(ours, theirs, "application") == []
    communication = ours["_embedded"]["communication"]
    assert next(iter(communication)) == next(iter(theirs["_embedded"]["communication"])) == "{guid}"
    for key in ("culture", "userAgent", "rel"):
        assert ours[key] == theirs[key], key
    for rel, resource in theirs["_embedded"].items():
        assert ours["_embedded"][rel]["rel"] == resource["rel"]
    for key in ("{guid}", "supportedModalities", "supportedMessageFormats"):
        assert communication[key] == theirs["_embedded"]["communication"][key], key


async def test_application_delete(client: httpx.AsyncClient) -> None:
    expected = sample("application/delete.json")
    created, auth = await create_application(client)
    response = await client.delete(created.json()["_links"]["self"]["href"], headers=auth)
    assert response.status_code == expected["status"] == 204
    assert response.content == b""
    assert_headers(response, expected["headers"], OUR_NAMES)
