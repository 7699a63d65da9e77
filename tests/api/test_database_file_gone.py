"""The database file is deleted, moved away or replaced while the server runs. SQLite would go
on committing into the file it has open, which the next start never sees: the acknowledged
meetings would be lost. Every write is refused with ``503 ServiceUnavailable`` instead (one log
line), reads go on from what was committed, and writes resume once the file is back."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from openucwa.settings import Settings
from openucwa.storage.sql.engine import sqlite_path
from tests.conftest import Helpers


def _database(settings: Settings) -> Path:
    return Path(sqlite_path(settings.database))


async def test_a_write_after_the_file_was_moved_away_is_refused_until_it_is_back(
    helpers: Helpers, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    bill = await helpers.session("bill")
    meetings = bill.link("onlineMeetings", "myOnlineMeetings")
    kept = await helpers.client.post(meetings, json={"subject": "kept"}, headers=bill.headers)
    assert kept.status_code == 201, kept.text
    path = _database(settings)
    path.rename(path.with_suffix(".moved"))
    try:
        with caplog.at_level(logging.ERROR, logger="openucwa.storage"):
            refused = await helpers.client.post(
                meetings, json={"subject": "refused"}, headers=bill.headers
            )
            again = await helpers.client.post(
                meetings, json={"subject": "refused too"}, headers=bill.headers
            )
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "ServiceUnavailable"
        assert refused.headers["Retry-After"] == "1"
        assert again.status_code == 503
        lines = [r for r in caplog.records if "deleted, moved or replaced" in r.getMessage()]
        assert len(lines) == 1  # one line, not one per refused write
        read = await helpers.client.get(kept.headers["Location"], headers=bill.headers)
        assert read.status_code == 200
        assert read.json()["subject"] == "kept"
    finally:
        path.with_suffix(".moved").rename(path)

    back = await helpers.client.post(meetings, json={"subject": "back"}, headers=bill.headers)
    assert back.status_code == 201, back.text
    listed = await helpers.client.get(meetings, headers=bill.headers)
    assert "refused" not in listed.text
    assert "back" in listed.text


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_write_after_the_file_was_deleted_or_replaced_is_refused(
    helpers: Helpers, settings: Settings, how: str
) -> None:
    bill = await helpers.session("bill")
    meetings = bill.link("onlineMeetings", "myOnlineMeetings")
    path = _database(settings)
    if how == "deleted":
        path.unlink()
    else:  # a copy renamed over it (say, a backup restored with mv): another file
        shutil.copyfile(path, path.with_suffix(".copy"))
        os.replace(path.with_suffix(".copy"), path)
    response = await helpers.client.post(
        meetings, json={"subject": "nowhere"}, headers={**bill.headers, "Accept": "application/xml"}
    )
    assert response.status_code == 503, response.text
    assert b"<code>ServiceUnavailable</code>" in response.content
    assert b"Traceback" not in response.content
