from tests.conftest import Helpers


async def test_sign_in_and_schedule(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    url = bill.link("onlineMeetings", "myOnlineMeetings")
    response = await helpers.client.post(url, json={"subject": "Hi"}, headers=bill.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["subject"] == "Hi"
    assert response.headers["etag"] == f'"{body["etag"]}"'
