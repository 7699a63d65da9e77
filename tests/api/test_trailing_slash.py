"""A trailing slash (docs/deviations.md 20): 307 to the URL without it, nothing read or changed
at the slashed URL itself, and 404 for a URL that names nothing either way."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.conftest import Helpers


async def test_a_slashed_resource_url_redirects_to_the_resource(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    href = bill.app_href
    response = await helpers.client.get(href + "/", headers=bill.headers)
    assert response.status_code == 307
    assert urlsplit(response.headers["location"]).path == href
    assert "_links" not in response.text  # the application itself is not served here


async def test_a_slashed_post_creates_nothing(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    meetings = bill.link("onlineMeetings", "myOnlineMeetings")
    response = await helpers.client.post(
        meetings + "/", json={"subject": "slashed"}, headers=bill.headers
    )
    assert response.status_code == 307
    assert urlsplit(response.headers["location"]).path == meetings
    listed = await helpers.client.get(meetings, headers=bill.headers)
    assert listed.status_code == 200
    assert "slashed" not in listed.text


async def test_a_slashed_url_that_names_nothing_is_not_found(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    response = await helpers.client.get("/nothing/here/", headers=bill.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
