"""The SQL storage adapter (SQLite today; the PostgreSQL adapter will implement the same ports)."""

from __future__ import annotations

from openucwa.storage.sql.applications import SqlApplicationRepository
from openucwa.storage.sql.engine import SqliteDatabase, migrate
from openucwa.storage.sql.meetings import SqlMeetingRepository
from openucwa.storage.sql.tokens import SqlTokenStore
from openucwa.storage.sql.users import SqlUserRepository


class SqliteStorage:
    def __init__(self, url: str) -> None:
        self.db = SqliteDatabase(url)
        self.users = SqlUserRepository(self.db)
        self.tokens = SqlTokenStore(self.db)
        self.applications = SqlApplicationRepository(self.db)
        self.meetings = SqlMeetingRepository(self.db)

    async def start(self) -> None:
        await self.db.start()

    async def close(self) -> None:
        await self.db.close()


__all__ = ["SqliteStorage", "migrate"]
