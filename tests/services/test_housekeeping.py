"""Housekeeping's runs (services/housekeeping.py)."""

from __future__ import annotations

import logging

import pytest

from openucwa.domain.errors import ServiceUnavailable
from openucwa.services.housekeeping import run_once


async def test_a_failing_job_does_not_stop_the_others_and_a_busy_database_is_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fine() -> int:
        return 3

    async def locked() -> int:
        raise ServiceUnavailable(message="The database is busy. Please try again later.")

    async def broken() -> int:
        raise RuntimeError("bug")

    with caplog.at_level(logging.WARNING, logger="openucwa.housekeeping"):
        done = await run_once({"locked": locked, "broken": broken, "fine": fine})
    assert done == {"fine": 3}
    busy = [r for r in caplog.records if "locked" in r.getMessage()]
    assert len(busy) == 1 and busy[0].levelno == logging.WARNING and busy[0].exc_info is None
    assert "database is busy" in busy[0].getMessage()
    bug = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(bug) == 1 and bug[0].exc_info is not None  # a real failure keeps its traceback
