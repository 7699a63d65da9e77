"""onlineMeetingExtensions (GET, POST) and onlineMeetingExtension (GET, PUT, DELETE) over HTTP:
programmer-defined properties round-trip, embedded arrays, If-Match, odd ids in URLs, XML.
Spec: UCWA-MEETINGS.md §1.2, §2.0.5, §2.6.4, §4.2 rule 4, §4.3, E22."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.meetings_support import (
    XML,
    assert_error,
    assert_validation,
    created,
    get_json,
    markers,
    put,
    self_href,
    xml_input,
    xml_props,
    xml_root,
)
from tests.conftest import Helpers, Session

EXT1 = {
    "id": "ext1",
    "type": "RoamedParticipantData",
    "anyName": "value",
    "n": 5,
    "flag": True,
    "list": ["a", "b"],
}


async def meeting_and_extensions(helpers: Helpers, who: Session) -> tuple[dict[str, Any], str]:
    meeting = await created(helpers, who, {"subject": "with extensions"})
    return meeting, str(meeting["_links"]["onlineMeetingExtensions"]["href"])


async def add(helpers: Helpers, who: Session, url: str, body: Any) -> httpx.Response:
    return await helpers.client.post(url, json=body, headers=who.headers)


async def test_post_get_and_embedding(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting, url = await meeting_and_extensions(helpers, bill)
    response = await add(helpers, bill, url, EXT1)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == self_href(body)
    assert self_href(body).startswith(url + "/")
    assert response.headers["etag"] == f'"{body["etag"]}"' and body["etag"]
    assert body["rel"] == "onlineMeetingExtension"
    assert {k: body[k] for k in EXT1} == EXT1  # JSON types preserved
    assert len(markers(body)) == 1
    fetched = await helpers.client.get(response.headers["location"], headers=bill.headers)
    assert fetched.status_code == 200 and fetched.json() == body
    assert fetched.headers["etag"] == response.headers["etag"]
    second = await add(helpers, bill, url, {"id": "ext2", "type": "RoamedOrganizerData"})
    assert second.status_code == 201
    collection = await get_json(helpers, bill, url)
    assert collection["rel"] == "onlineMeetingExtensions" and self_href(collection) == url
    embedded = collection["_embedded"]["onlineMeetingExtension"]
    assert [e["id"] for e in embedded] == ["ext1", "ext2"]
    assert embedded[0] == body
    again = await get_json(helpers, bill, self_href(meeting))
    assert again["_embedded"]["onlineMeetingExtension"] == embedded
    assert again["etag"] == meeting["etag"]  # embedded changes leave the container's ETag


async def test_if_none_match_sees_embedded_changes(helpers: Helpers) -> None:
    """An extension changes without changing the meeting's ETag, so a copy carrying that ETag
    may lack it: If-None-Match naming it gets the whole meeting until a PUT mints a new ETag
    (a browser revalidates its cached copy on its own)."""
    bill = await helpers.session("bill")
    meeting, url = await meeting_and_extensions(helpers, bill)
    href = self_href(meeting)

    async def revalidate(etag: str) -> httpx.Response:
        headers = {**bill.headers, "If-None-Match": f'"{etag}"'}
        return await helpers.client.get(href, headers=headers)

    assert (await revalidate(meeting["etag"])).status_code == 304
    ext = (await add(helpers, bill, url, {"id": "late"})).json()
    fresh = await revalidate(meeting["etag"])
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == f'"{meeting["etag"]}"'  # the ETag stays (PayloadFormat)
    assert [e["id"] for e in fresh.json()["_embedded"]["onlineMeetingExtension"]] == ["late"]
    put = await helpers.client.put(
        href, json={"subject": "renamed"}, headers={**bill.headers, "If-Match": meeting["etag"]}
    )
    assert put.status_code == 200, put.text
    new_etag = put.json()["etag"]
    assert (await revalidate(new_etag)).status_code == 304
    changed = {**bill.headers, "If-Match": f'"{ext["etag"]}"'}
    assert (await helpers.client.delete(self_href(ext), headers=changed)).status_code == 204
    gone = await revalidate(new_etag)
    assert gone.status_code == 200 and "_embedded" not in gone.json()
    stale = await revalidate(meeting["etag"])
    assert stale.status_code == 200  # an older ETag never matched anyway


async def test_one_extension_is_still_an_array(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting, url = await meeting_and_extensions(helpers, bill)
    assert (await get_json(helpers, bill, url))["_embedded"] == {"onlineMeetingExtension": []}
    assert (await add(helpers, bill, url, {"id": "only"})).status_code == 201
    for href in (url, self_href(meeting)):
        embedded = (await get_json(helpers, bill, href))["_embedded"]["onlineMeetingExtension"]
        assert isinstance(embedded, list) and [e["id"] for e in embedded] == ["only"]


async def test_defaults_for_id_and_type(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    response = await add(helpers, bill, url, {"type": "roamedorganizerdata"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["type"] == "RoamedOrganizerData" and body["id"]
    assert (await get_json(helpers, bill, response.headers["location"]))["id"] == body["id"]
    untyped = (await add(helpers, bill, url, {"id": "plain"})).json()
    assert untyped["type"] == "Undefined"


async def test_delete_honours_if_match_when_given(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    ext = (await add(helpers, bill, url, {"id": "guarded"})).json()
    stale = {**bill.headers, "If-Match": '"stale"'}
    refused = await helpers.client.delete(self_href(ext), headers=stale)
    assert refused.status_code == 412 and refused.json()["code"] == "PreconditionFailed"
    assert (await helpers.client.get(self_href(ext), headers=bill.headers)).status_code == 200
    current = {**bill.headers, "If-Match": f'"{ext["etag"]}"'}
    assert (await helpers.client.delete(self_href(ext), headers=current)).status_code == 204


async def test_id_and_type_may_come_in_the_query(helpers: Helpers) -> None:
    """§2.0.6: POST input may be in the query. The body wins; other query parameters (say a
    cache-buster) are not stored as values."""
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    query = "?id=q1&Type=RoamedOrganizerData&_=1700000000"
    response = await helpers.client.post(url + query, headers=bill.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["type"]) == ("q1", "RoamedOrganizerData")
    assert "_" not in body
    both = await add(helpers, bill, url + "?id=q2&type=Undefined", {"id": "b2"})
    assert both.status_code == 201, both.text
    assert (both.json()["id"], both.json()["type"]) == ("b2", "Undefined")
    bad = await helpers.client.post(url + "?type=Secret", headers=bill.headers)
    assert bad.status_code == 400, bad.text


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"id": "e", "type": "Secret"}, "type"),
        ({"id": "e", "nested": {"a": 1}}, "nested"),
        ({"id": "e", "rows": [["a"]]}, "rows"),
        ({"id": "e", "mixed": ["a", {"b": 1}]}, "mixed"),
        ({"id": "a/b"}, "id"),
        ({"id": "."}, "id"),  # dot segments: the href would resolve to the collection
        ({"id": ".."}, "id"),  # ... or to the meeting, and DELETE would remove the meeting
        ({"id": ""}, "id"),
        ({"id": 7}, "id"),
    ],
)
async def test_invalid_extensions_are_rejected(
    helpers: Helpers, body: dict[str, Any], name: str
) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    assert_validation(await add(helpers, bill, url, body), name)
    assert (await get_json(helpers, bill, url))["_embedded"] == {"onlineMeetingExtension": []}


async def test_duplicate_id_is_a_conflict(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    first = await add(helpers, bill, url, {"id": "dup", "v": 1})
    assert first.status_code == 201
    assert_error(
        await add(helpers, bill, url, {"id": "dup", "v": 2}), 409, "Conflict", "AlreadyExists"
    )
    assert (await get_json(helpers, bill, first.headers["location"]))["v"] == 1
    _, other_url = await meeting_and_extensions(helpers, bill)
    assert (await add(helpers, bill, other_url, {"id": "dup"})).status_code == 201  # per meeting


async def test_put_rules(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    ext = (await add(helpers, bill, url, EXT1)).json()
    href = self_href(ext)
    change = {"type": "RoamedOrganizerData", "anyName": "changed", "extra": 1.5}
    assert_error(await put(helpers, bill, href, change, None), 428, "PreconditionRequired", None)
    assert_error(await put(helpers, bill, href, change, '"1"'), 412, "PreconditionFailed", None)
    etag = ext["etag"]
    for form in ('"{}"', "{}", 'W/"{}"'):
        response = await put(helpers, bill, href, change, form.format(etag))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["etag"] != etag and response.headers["etag"] == f'"{body["etag"]}"'
        assert (body["id"], body["type"], body["anyName"], body["extra"]) == (
            "ext1",
            "RoamedOrganizerData",
            "changed",
            1.5,
        )
        assert "flag" not in body and "list" not in body  # PUT replaces the property bag
        assert markers(body) == markers(ext)
        etag = body["etag"]
    assert_error(
        await put(helpers, bill, href, change, ext["etag"]), 412, "PreconditionFailed", None
    )
    bad = await put(helpers, bill, href, {"deep": {"x": 1}}, etag)
    assert_validation(bad, "deep")


async def test_put_of_the_whole_get_body(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    ext = (await add(helpers, bill, url, EXT1)).json()
    body = await get_json(helpers, bill, self_href(ext))
    body |= {"anyName": "edited", "id": "renamed"}
    response = await put(helpers, bill, self_href(ext), body, f'"{ext["etag"]}"')
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["id"] == "ext1" and self_href(after) == self_href(ext)
    assert after["anyName"] == "edited" and after["n"] == 5 and after["list"] == ["a", "b"]
    assert markers(after) == markers(ext) and after["etag"] != ext["etag"]


async def test_delete(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meeting, url = await meeting_and_extensions(helpers, bill)
    ext = (await add(helpers, bill, url, EXT1)).json()
    response = await helpers.client.delete(self_href(ext), headers=bill.headers)
    assert response.status_code == 204 and response.content == b""
    assert_error(
        await helpers.client.get(self_href(ext), headers=bill.headers), 404, "NotFound", None
    )
    again = await helpers.client.delete(self_href(ext), headers=bill.headers)
    assert again.status_code == 404
    assert "_embedded" not in await get_json(helpers, bill, self_href(meeting))
    assert (await add(helpers, bill, url, EXT1)).status_code == 201  # the id is free again


@pytest.mark.parametrize(
    "ext_id", ["with space", "50%", "%2e%2e", "ünïcødé ✓", "a?b#c&d=e", "plus+sign", "a\\b", "..."]
)
async def test_url_special_ids_work_through_the_location(helpers: Helpers, ext_id: str) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    response = await add(helpers, bill, url, {"id": ext_id, "k": "v"})
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    fetched = await helpers.client.get(location, headers=bill.headers)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["id"] == ext_id and self_href(fetched.json()) == location
    updated = await put(helpers, bill, location, {"k": "w"}, fetched.json()["etag"])
    assert updated.status_code == 200 and updated.json()["k"] == "w"
    assert (await helpers.client.delete(location, headers=bill.headers)).status_code == 204
    assert (await helpers.client.get(location, headers=bill.headers)).status_code == 404


async def test_xml_values_come_back_as_text(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    _, url = await meeting_and_extensions(helpers, bill)
    location = (await add(helpers, bill, url, EXT1)).headers["location"]
    response = await helpers.client.get(location, headers={**bill.headers, **XML})
    root = xml_root(response)
    assert (root.attrib["rel"], root.attrib["href"]) == ("onlineMeetingExtension", location)
    props = xml_props(root)
    assert (props["id"], props["type"], props["anyName"]) == (
        "ext1",
        "RoamedParticipantData",
        "value",
    )
    assert (props["n"], props["flag"], props["list"]) == ("5", "true", ["a", "b"])
    headers = {**bill.headers, **XML, "Content-Type": "application/xml"}
    body = xml_input(
        "input", {"id": "x2", "type": "Undefined", "color": "blue", "tags": ["p", "q"]}
    )
    posted = await helpers.client.post(url, content=body, headers=headers)
    assert posted.status_code == 201, posted.text
    assert xml_props(xml_root(posted))["color"] == "blue"
    as_json = await get_json(helpers, bill, posted.headers["location"])
    assert (as_json["color"], as_json["tags"]) == ("blue", ["p", "q"])


async def test_other_users_and_deleted_meetings(helpers: Helpers) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    meeting, url = await meeting_and_extensions(helpers, bill)
    location = (await add(helpers, bill, url, EXT1)).headers["location"]
    for href in (url, location):
        assert (await helpers.client.get(href, headers=alice.headers)).status_code == 404
    assert (await add(helpers, alice, url, {"id": "intruder"})).status_code == 404
    assert (
        await helpers.client.delete(self_href(meeting), headers=bill.headers)
    ).status_code == 204
    for href in (url, location):
        assert (await helpers.client.get(href, headers=bill.headers)).status_code == 404
    assert (await add(helpers, bill, url, {"id": "late"})).status_code == 404
