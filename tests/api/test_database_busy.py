"""Another process holds the database's write lock past OPENUCWA_DATABASE_BUSY_TIMEOUT: a write
answers ``503 ServiceUnavailable`` with ``Retry-After`` (JSON and XML), and nothing of it is
committed, not even once the lock is released."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from xml.etree import ElementTree as ET

import pytest

from openucwa.settings import Settings
from openucwa.storage.sql.engine import sqlite_path
from tests.conftest import Helpers

NS = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, database_busy_timeout=0.2)


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
async def test_a_write_blocked_by_another_process_answers_503(
    helpers: Helpers, settings: Settings, accept: str
) -> None:
    bill = await helpers.session("bill")
    meetings = bill.link("onlineMeetings", "myOnlineMeetings")
    other = sqlite3.connect(sqlite_path(settings.database), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        response = await helpers.client.post(
            meetings, json={"subject": "blocked"}, headers={**bill.headers, "Accept": accept}
        )
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"].startswith(accept)
    if accept == "application/json":
        assert response.json()["code"] == "ServiceUnavailable"
    else:
        root = ET.fromstring(response.content)
        assert root.tag == f"{NS}reason"
        assert root.findtext(f"{NS}code") == "ServiceUnavailable"
    assert "Traceback" not in response.text

    listed = await helpers.client.get(meetings, headers=bill.headers)
    assert listed.status_code == 200
    assert "blocked" not in listed.text  # refused, and never committed later
    again = await helpers.client.post(meetings, json={"subject": "later"}, headers=bill.headers)
    assert again.status_code == 201, again.text


async def test_sign_in_blocked_by_another_process_answers_oauth_503(
    helpers: Helpers, settings: Settings
) -> None:
    other = sqlite3.connect(sqlite_path(settings.database), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        response = await helpers.client.post(
            "/WebTicket/oauthtoken",
            data={"grant_type": "password", "username": "bmauldin", "password": "bill-pass"},
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "temporarily_unavailable"
