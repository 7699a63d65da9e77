"""Programmer-defined extension properties come back exactly as sent, or are refused with a
400 that names them: never dropped or changed without a word (spec §2.6.4 "round-trip")."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.meetings_support import MARKER, assert_validation, created, markers, self_href
from tests.conftest import Helpers, Session


async def post_extension(helpers: Helpers, body: Any) -> tuple[Session, httpx.Response]:
    bill = await helpers.session("bill")
    meeting = await created(helpers, bill, {"subject": "extension properties"})
    url = meeting["_links"]["onlineMeetingExtensions"]["href"]
    return bill, await helpers.client.post(url, json=body, headers=bill.headers)


async def test_the_marker_text_is_a_value_like_any_other(helpers: Helpers) -> None:
    bill, response = await post_extension(helpers, {"id": "m", "note": MARKER})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["note"] == MARKER
    (guid,) = [name for name in markers(body) if name != "note"]
    # The whole GET body sent back: the GUID-named marker is dropped, "note" is kept.
    fetched = await helpers.client.get(self_href(body), headers=bill.headers)
    headers = {**bill.headers, "If-Match": fetched.headers["etag"]}
    put = await helpers.client.put(self_href(body), json=fetched.json(), headers=headers)
    assert put.status_code == 200, put.text
    assert put.json()["note"] == MARKER and guid in put.json()
    assert sorted(markers(put.json())) == sorted(["note", guid])


async def test_two_spellings_of_one_name_are_refused(helpers: Helpers) -> None:
    _, response = await post_extension(helpers, {"id": "c", "Color": "Red", "color": "blue"})
    assert_validation(response, "color")


async def test_an_empty_property_name_is_refused(helpers: Helpers) -> None:
    _, response = await post_extension(helpers, {"id": "e", "": "x"})
    assert_validation(response, "properties")


async def test_integers_round_trip_exactly_within_64_bits(helpers: Helpers) -> None:
    values = {"max": 2**64 - 1, "min": -(2**63), "list": [2**63, -1]}
    bill, response = await post_extension(helpers, {"id": "ints", **values})
    assert response.status_code == 201, response.text
    fetched = await helpers.client.get(self_href(response.json()), headers=bill.headers)
    assert {k: fetched.json()[k] for k in values} == values


async def test_integers_beyond_64_bits_are_refused_not_rounded(helpers: Helpers) -> None:
    for big in (2**64, 123456789012345678901234567890, -(2**63) - 1):
        _, response = await post_extension(helpers, {"id": "big", "n": big})
        assert_validation(response, "n")
        _, response = await post_extension(helpers, {"id": "big", "l": [1, big]})
        assert_validation(response, "l")
