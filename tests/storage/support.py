"""Helpers for tests that build databases by hand."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from openucwa.storage.sql import SqliteStorage, migrate

FUTURE_MIGRATION = "0099_future"


def as_if_from_a_newer_version(path: Path) -> None:
    """Record a migration this version does not know, as a newer openucwa would have."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO _yoyo_migration VALUES"
            f" ('ffff', '{FUTURE_MIGRATION}', '2099-01-01 00:00:00')"
        )
    conn.close()


@asynccontextmanager
async def migrated(path: Path, first: str) -> AsyncIterator[SqliteStorage]:
    """The database at ``path`` migrated to the end, ``first`` being the first migration
    applied, and opened."""
    assert migrate(f"sqlite:///{path}")[0] == first
    storage = SqliteStorage(f"sqlite:///{path}")
    await storage.start()
    try:
        yield storage
    finally:
        await storage.close()
